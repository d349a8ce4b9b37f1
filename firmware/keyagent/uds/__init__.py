# UDS (ISO 14229-1) diagnostic server over ISO-TP: the way an update arrives.
