"""Shop capability profiles computed from quotes, outcomes, history and RFQ answers."""
