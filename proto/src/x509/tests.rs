use super::*;

/// A DER value: tag, minimal length, content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

fn set(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(SET, &parts.concat())
}

fn atv(oid: &[u8], value: Vec<u8>) -> Vec<u8> {
    seq(&[tlv(OID, oid), value])
}

fn utf8(text: &str) -> Vec<u8> {
    tlv(UTF8_STRING, text.as_bytes())
}

const CN: &[u8] = &[0x55, 0x04, 0x03];
const O: &[u8] = &[0x55, 0x04, 0x0a];
const OU: &[u8] = &[0x55, 0x04, 0x0b];
const C: &[u8] = &[0x55, 0x04, 0x06];

/// A certificate around `subject` (a whole Name, tag included), with a
/// version, as X.509 v3 certificates have.
fn cert_with_name(subject: Vec<u8>) -> Vec<u8> {
    let algorithm = seq(&[tlv(OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])]);
    let issuer = seq(&[set(&[atv(CN, utf8("Test CA"))])]);
    let validity = seq(&[tlv(0x17, b"250101000000Z"), tlv(0x17, b"350101000000Z")]);
    let tbs = seq(&[
        tlv(VERSION, &tlv(INTEGER, &[2])),
        tlv(INTEGER, &[0x01, 0x23]),
        algorithm.clone(),
        issuer,
        validity,
        subject,
        seq(&[]), // subjectPublicKeyInfo, never read
    ]);
    seq(&[tbs, algorithm, tlv(0x03, &[0x00, 0xaa])])
}

fn cert(rdns: &[Vec<u8>]) -> Vec<u8> {
    cert_with_name(seq(rdns))
}

#[test]
fn accepts() {
    let table: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "two RDNs, written last first",
            cert(&[
                set(&[atv(O, utf8("Example"))]),
                set(&[atv(CN, utf8("alice"))]),
            ]),
            "CN=alice,O=Example",
        ),
        (
            "multi-valued RDN",
            cert(&[set(&[atv(OU, utf8("dev")), atv(CN, utf8("bob"))])]),
            "OU=dev+CN=bob",
        ),
        ("empty subject", cert(&[]), ""),
        (
            "every named type",
            cert(&[
                set(&[atv(
                    &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19],
                    tlv(IA5_STRING, b"com"),
                )]),
                set(&[atv(C, tlv(PRINTABLE_STRING, b"FR"))]),
                set(&[atv(&[0x55, 0x04, 0x08], utf8("Rhone"))]),
                set(&[atv(&[0x55, 0x04, 0x07], utf8("Lyon"))]),
                set(&[atv(&[0x55, 0x04, 0x09], utf8("1 rue"))]),
                set(&[atv(
                    &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01],
                    utf8("u1"),
                )]),
                set(&[atv(
                    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01],
                    tlv(IA5_STRING, b"a@b.c"),
                )]),
            ]),
            "emailAddress=a@b.c,UID=u1,STREET=1 rue,L=Lyon,ST=Rhone,C=FR,DC=com",
        ),
        (
            "unknown type: dotted OID and hex of the value",
            cert(&[set(&[atv(
                &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x01],
                utf8("x"),
            )])]),
            "1.3.6.1.4.1.311.1=x",
        ),
        (
            "known type with a non-string value",
            cert(&[set(&[atv(CN, tlv(INTEGER, &[0x05]))])]),
            "CN=#020105",
        ),
        (
            "TeletexString as Latin-1",
            cert(&[set(&[atv(CN, tlv(TELETEX_STRING, &[b'J', 0xe9, b'r']))])]),
            "CN=Jér",
        ),
        (
            "BMPString",
            cert(&[set(&[atv(
                CN,
                tlv(BMP_STRING, &[0x00, b'h', 0x00, 0xe9, 0x20, 0xac]),
            )])]),
            "CN=hé€",
        ),
        (
            "BMPString with a lone surrogate: hex",
            cert(&[set(&[atv(CN, tlv(BMP_STRING, &[0xd8, 0x00]))])]),
            "CN=#1E02D800",
        ),
        (
            "UTF8String that is not UTF-8: hex",
            cert(&[set(&[atv(CN, tlv(UTF8_STRING, &[0xff]))])]),
            "CN=#0C01FF",
        ),
        (
            "PrintableString with a non-ASCII byte: hex",
            cert(&[set(&[atv(CN, tlv(PRINTABLE_STRING, &[0xc3]))])]),
            "CN=#1301C3",
        ),
        (
            "RFC 4514 specials",
            cert(&[set(&[atv(CN, utf8("a,b+c;d<e>f\"g\\h=i"))])]),
            "CN=a\\,b\\+c\\;d\\<e\\>f\\\"g\\\\h=i",
        ),
        (
            "leading # and edge spaces",
            cert(&[set(&[atv(CN, utf8("# x "))]), set(&[atv(O, utf8(" "))])]),
            "O=\\ ,CN=\\# x\\ ",
        ),
        (
            "control characters as hex pairs (NUL, LF, DEL, C1)",
            cert(&[set(&[atv(CN, utf8("a\0b\nc\u{7f}d\u{85}"))])]),
            "CN=a\\00b\\0Ac\\7Fd\\C2\\85",
        ),
        (
            "v1 certificate (no version)",
            {
                let tbs = seq(&[
                    tlv(INTEGER, &[1]),
                    seq(&[]),
                    seq(&[]),
                    seq(&[]),
                    seq(&[set(&[atv(CN, utf8("v1"))])]),
                ]);
                seq(&[tbs, seq(&[]), tlv(0x03, &[0])])
            },
            "CN=v1",
        ),
    ];
    for (name, der, expected) in table {
        let got = subject_rfc4514(&der).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(got, expected, "{name}");
    }
    // Long-form lengths: a 200-byte value makes every enclosing length long.
    let long = cert(&[set(&[atv(CN, utf8(&"x".repeat(200)))])]);
    assert!(long[1] & 0x80 != 0, "long form");
    assert_eq!(
        subject_rfc4514(&long),
        Ok(format!("CN={}", "x".repeat(200)))
    );
}

#[test]
fn rejects() {
    let good = cert(&[set(&[atv(CN, utf8("alice"))])]);
    let mut trailing = good.clone();
    trailing.push(0);
    let mut indefinite = good.clone();
    indefinite[1] = 0x80;
    let too_many: Vec<Vec<u8>> = (0..=MAX_ATTRIBUTES)
        .map(|_| set(&[atv(CN, utf8("a"))]))
        .collect();
    let long_value = "x".repeat(MAX_SUBJECT_BYTES);
    let table: Vec<(&str, Vec<u8>, X509Error)> = vec![
        ("empty input", vec![], X509Error::Truncated),
        ("tag only", vec![0x30], X509Error::Truncated),
        (
            "truncated content",
            good[..good.len() - 1].to_vec(),
            X509Error::Truncated,
        ),
        ("trailing byte", trailing, X509Error::TrailingBytes),
        ("indefinite length", indefinite, X509Error::IndefiniteLength),
        (
            "long form for a short length",
            vec![0x30, 0x81, 0x05, 0, 0, 0, 0, 0],
            X509Error::BadLength,
        ),
        (
            "leading zero length byte",
            vec![0x30, 0x82, 0x00, 0x80],
            X509Error::BadLength,
        ),
        (
            "five length bytes",
            vec![0x30, 0x85, 1, 0, 0, 0, 0],
            X509Error::BadLength,
        ),
        (
            "length bytes missing",
            vec![0x30, 0x82, 0x01],
            X509Error::Truncated,
        ),
        (
            "high tag number",
            vec![0x3f, 0x01, 0x00],
            X509Error::HighTag,
        ),
        (
            "not a SEQUENCE",
            tlv(SET, &[]),
            X509Error::Unexpected("Certificate"),
        ),
        (
            "subject not a SEQUENCE",
            cert_with_name(tlv(SET, &[])),
            X509Error::Unexpected("subject"),
        ),
        (
            "empty RDN",
            cert(&[set(&[])]),
            X509Error::Unexpected("RelativeDistinguishedName"),
        ),
        (
            "RDN that is a SEQUENCE",
            cert(&[seq(&[atv(CN, utf8("a"))])]),
            X509Error::Unexpected("RelativeDistinguishedName"),
        ),
        (
            "attribute type not an OID",
            cert(&[set(&[seq(&[utf8("CN"), utf8("a")])])]),
            X509Error::Unexpected("AttributeType"),
        ),
        (
            "attribute without a value",
            cert(&[set(&[seq(&[tlv(OID, CN)])])]),
            X509Error::Truncated,
        ),
        (
            "attribute with two values",
            cert(&[set(&[seq(&[tlv(OID, CN), utf8("a"), utf8("b")])])]),
            X509Error::TrailingBytes,
        ),
        (
            "empty OID",
            cert(&[set(&[atv(&[], utf8("a"))])]),
            X509Error::BadOid,
        ),
        (
            "OID ending mid-arc",
            cert(&[set(&[atv(&[0x2b, 0x86], utf8("a"))])]),
            X509Error::BadOid,
        ),
        (
            "OID arc with 0x80 padding",
            cert(&[set(&[atv(&[0x2b, 0x80, 0x01], utf8("a"))])]),
            X509Error::BadOid,
        ),
        (
            "OID arc beyond u64",
            cert(&[set(&[atv(
                &[
                    0x2b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
                ],
                utf8("a"),
            )])]),
            X509Error::BadOid,
        ),
        ("too many attributes", cert(&too_many), X509Error::TooLarge),
        (
            "subject too long",
            cert(&[set(&[atv(CN, utf8(&long_value))])]),
            X509Error::TooLarge,
        ),
        (
            "certificate too large",
            vec![0; MAX_CERTIFICATE_BYTES + 1],
            X509Error::TooLarge,
        ),
    ];
    for (name, der, expected) in table {
        assert_eq!(subject_rfc4514(&der), Err(expected), "{name}");
    }
}

#[test]
fn no_prefix_of_a_certificate_is_accepted() {
    let good = cert(&[
        set(&[atv(O, utf8("Example"))]),
        set(&[atv(CN, utf8("alice"))]),
    ]);
    for end in 0..good.len() {
        assert!(
            subject_rfc4514(&good[..end]).is_err(),
            "prefix of {end} bytes"
        );
    }
}

/// Certificates made by OpenSSL (the fuzz seeds), against what `openssl x509
/// -nameopt RFC2253,-esc_msb` prints for them, but for the order inside a
/// multi-valued RDN: OpenSSL reverses it, we keep the certificate's (DER
/// sorts a SET OF, so that order is canonical).
#[test]
fn openssl_certificates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/x509_subject");
    let table = [
        ("ec-cn-o.der", "O=Example,CN=alice"),
        (
            "rsa-multivalued.der",
            "UID=u1,emailAddress=bob@example.com,CN=bob+OU=dev,O=Ex\\, Inc.,L=Lyon,ST=Rhone,C=FR,DC=example,DC=com",
        ),
        ("utf8-escapes.der", "O=Société\\+Co,CN=Jérôme #1\\ "),
    ];
    for (file, expected) in table {
        let der = std::fs::read(dir.join(file)).unwrap();
        assert_eq!(subject_rfc4514(&der).as_deref(), Ok(expected), "{file}");
    }
}
