"""Small programs the lab's demo and tests run inside the device namespace."""
