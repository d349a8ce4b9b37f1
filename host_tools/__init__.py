# Host-side tools of qkd-secoc: the `qkd-secoc` command and its helpers.
