# ISO 15765-2 transport: frame formats (frames), the sender and the
# connection that pairs it with a receiver (connection).
