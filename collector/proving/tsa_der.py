"""A TSA's answer with its certificate set put in DER order, for the strict parser.

CMS (RFC 5652) declares `SignedData.certificates` (and `crls`) a SET OF, whose DER encoding
sorts the members by their bytes. Real authorities do not all do that: `openssl ts -reply`
with `certs` sends the signer's certificate first and its chain after it, and so do
Microsoft's and BouncyCastle's TSAs. OpenSSL verifies such a token; rfc3161_client's parser
refuses it (`InvalidSetOrdering`), and so would refuse every stamp such a TSA ever gives.

The two sets lie outside what the TSA signs (its signature covers the TSTInfo through the
signed attributes), so listing the same certificates in another order changes no signed
byte and no verdict. asn1crypto re-encodes those two fields only; every other byte,
the signed content and the signature included, is dumped as it was read. The copy is for
reading and checking: the raw answer, as the TSA sent it, is what gets stored.
"""

from __future__ import annotations

from asn1crypto import cms, core, tsp

_UNSIGNED_SETS: tuple[tuple[str, type[core.SetOf]], ...] = (
    ("certificates", cms.CertificateSet),
    ("crls", cms.RevocationInfoChoices),
)


def with_sets_in_der_order(response_der: bytes) -> bytes | None:
    """`response_der` with its token's certificate and CRL sets sorted as DER wants them,
    or None when it cannot be read that far (then it is no answer to check anyway).

    Reordering never changes the length; a result of another length would mean the
    library re-encoded more than the sets, and is refused rather than trusted.
    """
    try:
        response = tsp.TimeStampResp.load(response_der, strict=True)
        signed = response["time_stamp_token"]["content"]
        if not isinstance(signed, cms.SignedData):
            return None
        for field, set_type in _UNSIGNED_SETS:
            members = signed[field]
            if not isinstance(members, core.Void):
                signed[field] = set_type(list(members))
        reordered = response.dump()
    except (ValueError, TypeError, KeyError):
        return None
    return reordered if len(reordered) == len(response_der) else None
