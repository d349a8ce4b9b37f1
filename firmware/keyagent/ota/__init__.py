# Over-the-air update of the agent: image format, A/B slots, probation.
