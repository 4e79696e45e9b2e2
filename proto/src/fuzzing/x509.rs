//! X.509 subject harness (`x509_subject`).

/// Fuzz target `x509_subject`: the input is a DER certificate. Asserts that
/// an accepted certificate's subject is at most `MAX_SUBJECT_BYTES` long and
/// holds no control character (it goes to logs and session bindings), that
/// reading is deterministic, and that the certificate with one byte more or
/// one byte less is refused (the outer SEQUENCE must span the input exactly).
#[allow(clippy::panic)]
pub fn x509_subject(data: &[u8]) {
    use crate::x509::{subject_rfc4514, X509Error, MAX_CERTIFICATE_BYTES, MAX_SUBJECT_BYTES};

    let Ok(subject) = subject_rfc4514(data) else {
        return;
    };
    assert!(subject.len() <= MAX_SUBJECT_BYTES, "subject too long");
    assert!(!subject.chars().any(char::is_control), "control character");
    assert_eq!(
        subject_rfc4514(data).as_ref(),
        Ok(&subject),
        "deterministic"
    );
    if let Some((_, shorter)) = data.split_last() {
        assert!(subject_rfc4514(shorter).is_err(), "a prefix was accepted");
    }
    if data.len() < MAX_CERTIFICATE_BYTES {
        let mut longer = data.to_vec();
        longer.push(0);
        assert_eq!(
            subject_rfc4514(&longer),
            Err(X509Error::TrailingBytes),
            "a trailing byte was accepted"
        );
    }
}
