"""Committed domain events: the outbox, the per-process fan-out, WebSocket and SSE."""
