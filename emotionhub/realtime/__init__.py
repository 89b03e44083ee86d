"""The real-time path: single frames over HTTP and live streams over WebSocket, analysed in
the serving process by models loaded once and shared (micro-batched) by every caller."""
