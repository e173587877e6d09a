//! Upstream credentials that must be minted before a request can be encoded
//! (cloud OAuth tokens), as opposed to static keys a codec puts in a header.

pub mod google;
