# AUTOSAR SecOC: the secured-PDU engine (engine), freshness values (freshness,
# fv_sync) and the per-frame MAC path (frame_mac, its viper twin, bitpack).
