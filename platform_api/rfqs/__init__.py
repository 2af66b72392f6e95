"""Requests for quotation: a buyer sends its part to chosen shops; they quote or decline."""
