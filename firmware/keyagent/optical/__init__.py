# The QKD optical module's UART link (docs/optical-module-protocol.md):
# framing and CRC (link), messages, and the agent's client.
