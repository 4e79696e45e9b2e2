//! Every size the HTTP layer accepts from the network, in one place.

/// Size limits enforced by the HTTP decoders (STYLE.md item 4).
///
/// Start from [`Limits::DEFAULT`] and adjust with the chained `const`
/// setters:
///
/// ```
/// use supergateway_proto::http::Limits;
///
/// const SMALL: Limits = Limits::DEFAULT.with_head_bytes(4096).with_headers(32);
/// assert_eq!(SMALL.head_bytes, 4096);
/// assert_eq!(SMALL.target_bytes, Limits::DEFAULT.target_bytes);
/// ```
///
/// The body limit is not here: it depends on the route and is passed to
/// `BodyDecoder::new` as `max_body`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request head (or response head, for the client), leading
    /// empty lines included.
    ///
    /// Default: 8 KiB. Unit: bytes. Bounds the memory one connection can make
    /// us buffer before a request is known (slowloris, CRLF floods, endless
    /// header lines); over it the decoder answers 431 (the client gives up
    /// on the response).
    pub head_bytes: usize,
    /// Most header fields in one request or response head.
    ///
    /// Default: 100. Unit: fields. Bounds the header index and the time
    /// spent on lookups (hash-flood-style header bombs); over it, 431.
    pub headers: usize,
    /// Longest request-target.
    ///
    /// Default: 8 KiB. Unit: bytes. Bounds URL-based memory and logging
    /// blow-ups; over it, 414. (A head that hits `head_bytes` while still
    /// inside the target is answered 414 as well, not 431.)
    pub target_bytes: usize,
    /// Longest chunk-size line of a chunked body, extensions included and
    /// line ending excluded.
    ///
    /// Default: 256. Unit: bytes. Bounds a single framing line, so a peer
    /// cannot stream an endless size line or extension that produces no data.
    pub chunk_size_line: usize,
    /// Total chunk-extension bytes over one whole chunked body.
    ///
    /// Default: 16 KiB. Unit: bytes. Bounds CPU and time spent on bodies that
    /// are mostly tiny chunks with ignored extensions (hyper uses the same
    /// per-body cap).
    pub chunk_ext_bytes: usize,
    /// Total size of the trailer section of a chunked body.
    ///
    /// Default: 16 KiB. Unit: bytes. Trailers are read and ignored; this
    /// bounds how much a peer can send after the last chunk.
    pub trailer_bytes: usize,
    /// Most trailer fields after the last chunk.
    ///
    /// Default: 100. Unit: fields. Same attack as `trailer_bytes`, counted in
    /// lines.
    pub trailers: usize,
    /// Most bytes reserved up front for a body whose Content-Length is known.
    ///
    /// Default: 1 MiB. Unit: bytes. A peer can declare a huge Content-Length
    /// (up to the route's body limit) and then send nothing; the buffer grows
    /// only as bytes actually arrive beyond this.
    pub prealloc_bytes: usize,
}

impl Limits {
    /// The limits from STYLE.md: 8 KiB head, 100 headers, 8 KiB target,
    /// 256-byte chunk-size line, 16 KiB of chunk extensions per body,
    /// 16 KiB and 100 trailer fields, 1 MiB pre-allocation.
    pub const DEFAULT: Self = Self {
        head_bytes: 8 * 1024,
        headers: 100,
        target_bytes: 8 * 1024,
        chunk_size_line: 256,
        chunk_ext_bytes: 16 * 1024,
        trailer_bytes: 16 * 1024,
        trailers: 100,
        prealloc_bytes: 1024 * 1024,
    };

    /// Sets [`Limits::head_bytes`].
    #[must_use]
    pub const fn with_head_bytes(self, n: usize) -> Self {
        Self {
            head_bytes: n,
            ..self
        }
    }

    /// Sets [`Limits::headers`].
    #[must_use]
    pub const fn with_headers(self, n: usize) -> Self {
        Self { headers: n, ..self }
    }

    /// Sets [`Limits::target_bytes`].
    #[must_use]
    pub const fn with_target_bytes(self, n: usize) -> Self {
        Self {
            target_bytes: n,
            ..self
        }
    }

    /// Sets [`Limits::chunk_size_line`].
    #[must_use]
    pub const fn with_chunk_size_line(self, n: usize) -> Self {
        Self {
            chunk_size_line: n,
            ..self
        }
    }

    /// Sets [`Limits::chunk_ext_bytes`].
    #[must_use]
    pub const fn with_chunk_ext_bytes(self, n: usize) -> Self {
        Self {
            chunk_ext_bytes: n,
            ..self
        }
    }

    /// Sets [`Limits::trailer_bytes`].
    #[must_use]
    pub const fn with_trailer_bytes(self, n: usize) -> Self {
        Self {
            trailer_bytes: n,
            ..self
        }
    }

    /// Sets [`Limits::trailers`].
    #[must_use]
    pub const fn with_trailers(self, n: usize) -> Self {
        Self {
            trailers: n,
            ..self
        }
    }

    /// Sets [`Limits::prealloc_bytes`].
    #[must_use]
    pub const fn with_prealloc_bytes(self, n: usize) -> Self {
        Self {
            prealloc_bytes: n,
            ..self
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
