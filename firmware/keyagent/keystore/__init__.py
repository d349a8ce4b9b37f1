# The gateway's stock of QKD keys for the road (store) and the key wrap that
# keeps them sealed under the device key (keywrap).
