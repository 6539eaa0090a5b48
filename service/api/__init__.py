"""HTTP controllers and the WebSocket listener."""
