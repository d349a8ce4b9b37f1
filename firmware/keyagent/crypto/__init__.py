# AES-128 (the one seam between runtimes), CMAC, the SP 800-108 KDF, SHE key
# update and the buffer helpers they share.
