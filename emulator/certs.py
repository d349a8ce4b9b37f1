# A test PKI for the ETSI GS QKD 014 server: one CA, a KME server
# certificate valid for 127.0.0.1 and localhost, and one client certificate
# per SAE whose common name is the SAE ID (the server takes the caller's
# identity from it). ECDSA P-256 keys, made with `cryptography`. Private
# keys are written unencrypted with 0600 permissions: this is a test PKI.
import datetime
import ipaddress
import os
import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# SAE IDs become file names and URL path segments: keep them plain.
SAE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
RESERVED = ("ca", "kme")
VALID_DAYS = 825


def check_sae_id(sae_id):
    """Raise ValueError unless sae_id is 1-64 of A-Z a-z 0-9 _ . - (not
    starting with . _ -) and not a reserved file name (ca, kme)."""
    if not isinstance(sae_id, str) or not SAE_ID_RE.match(sae_id):
        raise ValueError("SAE ID must be 1-64 letters, digits, '_', '.' or '-': %r" % (sae_id,))
    if sae_id.lower() in RESERVED:
        raise ValueError("SAE ID %r clashes with the %s certificate's file name" % (sae_id, sae_id.lower()))
    return sae_id


def _name(common_name):
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "qkd-secoc test PKI"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _builder(subject, issuer, public_key, now):
    return (x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS)))


def _write_key(path, key):
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)  # also when the file was already there
        f.write(data)


def _write_cert(path, cert):
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def _leaf(ca_key, ca_name, common_name, now, server):
    key = ec.generate_private_key(ec.SECP256R1())
    builder = _builder(_name(common_name), ca_name, key.public_key(), now)
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    builder = builder.add_extension(x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=True, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False),
        critical=True)
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        usage = ExtendedKeyUsageOID.SERVER_AUTH
    else:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH
    builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def make_certs(directory, sae_ids, kme_name="qkd-secoc KME"):
    """Write DIR/ca.crt, DIR/kme.crt, DIR/kme.key and DIR/<ID>.crt,
    DIR/<ID>.key for each SAE ID (CN = the ID). Returns {name: path} for
    'ca', 'kme_cert', 'kme_key' and '<ID>.crt' / '<ID>.key'."""
    sae_ids = [check_sae_id(s) for s in sae_ids]
    if len(set(sae_ids)) != len(sae_ids):
        raise ValueError("SAE IDs must be distinct")
    os.makedirs(directory, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("qkd-secoc test CA")
    ca_cert = (_builder(ca_name, ca_name, ca_key.public_key(), now)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=False, content_commitment=False, key_encipherment=False,
                   data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                   encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    paths = {"ca": os.path.join(directory, "ca.crt"),
             "kme_cert": os.path.join(directory, "kme.crt"),
             "kme_key": os.path.join(directory, "kme.key")}
    _write_cert(paths["ca"], ca_cert)
    key, cert = _leaf(ca_key, ca_name, kme_name, now, server=True)
    _write_key(paths["kme_key"], key)
    _write_cert(paths["kme_cert"], cert)
    for sae_id in sae_ids:
        key, cert = _leaf(ca_key, ca_name, sae_id, now, server=False)
        paths[sae_id + ".key"] = os.path.join(directory, sae_id + ".key")
        paths[sae_id + ".crt"] = os.path.join(directory, sae_id + ".crt")
        _write_key(paths[sae_id + ".key"], key)
        _write_cert(paths[sae_id + ".crt"], cert)
    return paths
