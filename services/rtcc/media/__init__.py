"""Media helpers shared by services (remuxing recorded segments); no service state."""
