"""A shop's machine tools: type, axes, envelope, controller, hourly rate."""
