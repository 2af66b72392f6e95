"""Capacity: machine timelines, learned load, working calendars, spare hours per day."""
