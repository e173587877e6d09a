//! The AWS event stream spec's test vectors (fixtures/eventstream, from
//! aws-c-event-stream via aws-sdk-go): every positive case decodes to exactly
//! the recorded prelude, headers, payload and CRCs; every negative case fails
//! with the recorded error.

use super::*;

fn vectors_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/eventstream")
}

fn names(kind: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(vectors_dir().join("encoded").join(kind))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    out.sort();
    out
}

fn b64(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = A.iter().position(|&a| a == c).expect("base64 digit") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// A frame's lengths, CRCs and payload, owned.
type Decoded = (usize, usize, u32, u32, Vec<u8>);

/// Decodes `bytes` fed in pieces of `step` bytes; returns the frames' owned parts.
fn decode_in_steps(bytes: &[u8], step: usize) -> Result<Vec<Decoded>, FrameError> {
    let mut d = FrameDecoder::new();
    let mut out = Vec::new();
    for piece in bytes.chunks(step) {
        d.push(piece);
        while let Some(f) = d.next_frame()? {
            out.push((
                f.total_len(),
                f.headers_len(),
                f.prelude_crc,
                f.message_crc,
                f.payload.to_vec(),
            ));
        }
    }
    Ok(out)
}

#[test]
fn the_vector_sets_are_all_here() {
    assert_eq!(
        names("positive"),
        [
            "all_headers",
            "empty_message",
            "int32_header",
            "payload_no_headers",
            "payload_one_str_header"
        ]
    );
    assert_eq!(
        names("negative"),
        [
            "corrupted_header_len",
            "corrupted_headers",
            "corrupted_length",
            "corrupted_payload"
        ]
    );
}

#[test]
fn every_positive_vector_decodes_to_its_recorded_fields() {
    for name in names("positive") {
        let bytes = std::fs::read(vectors_dir().join("encoded/positive").join(&name)).unwrap();
        let want: serde_json::Value = serde_json::from_slice(
            &std::fs::read(vectors_dir().join("decoded/positive").join(&name)).unwrap(),
        )
        .unwrap();
        let mut d = FrameDecoder::new();
        d.push(&bytes);
        let f = d
            .next_frame()
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: no frame"));
        assert_eq!(
            f.total_len() as u64,
            want["total_length"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            f.headers_len() as u64,
            want["headers_length"].as_u64().unwrap(),
            "{name}"
        );
        // The vectors print CRCs as signed 32-bit integers.
        assert_eq!(
            f.prelude_crc as i32 as i64,
            want["prelude_crc"].as_i64().unwrap(),
            "{name}"
        );
        assert_eq!(
            f.message_crc as i32 as i64,
            want["message_crc"].as_i64().unwrap(),
            "{name}"
        );
        assert_eq!(f.payload, b64(want["payload"].as_str().unwrap()), "{name}");
        let got: Vec<_> = f.headers().collect();
        let headers = want["headers"].as_array().unwrap();
        assert_eq!(got.len(), headers.len(), "{name}");
        for ((gname, gvalue), h) in got.iter().zip(headers) {
            assert_eq!(*gname, h["name"].as_str().unwrap(), "{name}");
            let v = &h["value"];
            let expect = match h["type"].as_u64().unwrap() {
                0 | 1 => HeaderValue::Bool(v.as_bool().unwrap()),
                2 => HeaderValue::Byte(v.as_i64().unwrap() as i8),
                3 => HeaderValue::Int16(v.as_i64().unwrap() as i16),
                4 => HeaderValue::Int32(v.as_i64().unwrap() as i32),
                5 => HeaderValue::Int64(v.as_i64().unwrap()),
                8 => HeaderValue::Timestamp(v.as_i64().unwrap()),
                6 => {
                    assert_eq!(
                        *gvalue,
                        HeaderValue::Bytes(&b64(v.as_str().unwrap())),
                        "{name}"
                    );
                    continue;
                }
                7 => {
                    let s = String::from_utf8(b64(v.as_str().unwrap())).unwrap();
                    assert_eq!(*gvalue, HeaderValue::String(&s), "{name}");
                    continue;
                }
                9 => {
                    let mut u = [0u8; 16];
                    u.copy_from_slice(&b64(v.as_str().unwrap()));
                    HeaderValue::Uuid(u)
                }
                t => panic!("{name}: unknown type {t}"),
            };
            assert_eq!(*gvalue, expect, "{name} header {gname}");
        }
        // Re-encoding the decoded message gives back the exact bytes.
        let headers: Vec<_> = f.headers().collect();
        assert_eq!(
            encode_frame(&headers, f.payload),
            bytes,
            "{name}: re-encode"
        );
        assert!(d.next_frame().unwrap().is_none(), "{name}: trailing frame");
        assert_eq!(d.pending(), 0);
    }
}

#[test]
fn all_headers_has_every_value_type() {
    let bytes = std::fs::read(vectors_dir().join("encoded/positive/all_headers")).unwrap();
    let mut d = FrameDecoder::new();
    d.push(&bytes);
    let f = d.next_frame().unwrap().unwrap();
    let h: Vec<_> = f.headers().collect();
    // Hand-read from decoded/positive/all_headers.
    assert_eq!(h[0], ("event-type", HeaderValue::Int32(40972)));
    assert_eq!(
        h[1],
        ("content-type", HeaderValue::String("application/json"))
    );
    assert_eq!(h[2], ("bool false", HeaderValue::Bool(false)));
    assert_eq!(h[3], ("bool true", HeaderValue::Bool(true)));
    assert_eq!(h[4], ("byte", HeaderValue::Byte(-49)));
    assert_eq!(
        h[5],
        ("byte buf", HeaderValue::Bytes(b"I'm a little teapot!"))
    );
    assert_eq!(h[6], ("timestamp", HeaderValue::Timestamp(8675309)));
    assert_eq!(h[7], ("int16", HeaderValue::Int16(42)));
    assert_eq!(h[8], ("int64", HeaderValue::Int64(42424242)));
    assert_eq!(
        h[9],
        (
            "uuid",
            HeaderValue::Uuid([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])
        )
    );
    assert_eq!(f.payload, b"{'foo':'bar'}");
    assert_eq!(f.header_str("content-type"), Some("application/json"));
    assert_eq!(f.header_str("event-type"), None, "not a string header");
}

#[test]
fn every_negative_vector_fails_with_its_recorded_error() {
    for name in names("negative") {
        let bytes = std::fs::read(vectors_dir().join("encoded/negative").join(&name)).unwrap();
        let want =
            std::fs::read_to_string(vectors_dir().join("decoded/negative").join(&name)).unwrap();
        let want = want.trim();
        for step in [1, 3, bytes.len()] {
            let err = decode_in_steps(&bytes, step).expect_err(&name);
            assert!(
                err.to_string().starts_with(want),
                "{name} (step {step}): {err} vs {want}"
            );
            let kind_ok = match want {
                "Prelude checksum mismatch" => matches!(err, FrameError::PreludeChecksum { .. }),
                "Message checksum mismatch" => matches!(err, FrameError::MessageChecksum { .. }),
                other => panic!("unexpected recorded error {other}"),
            };
            assert!(kind_ok, "{name}: {err:?}");
        }
    }
}

#[test]
fn frames_split_at_every_boundary_decode_the_same() {
    let mut all = Vec::new();
    for name in names("positive") {
        all.extend(std::fs::read(vectors_dir().join("encoded/positive").join(&name)).unwrap());
    }
    let whole = decode_in_steps(&all, all.len()).unwrap();
    assert_eq!(whole.len(), 5);
    for step in 1..=17 {
        assert_eq!(decode_in_steps(&all, step).unwrap(), whole, "step {step}");
    }
    // Every split point of the byte sequence into two pushes.
    for cut in 0..all.len() {
        let mut d = FrameDecoder::new();
        let mut n = 0;
        d.push(&all[..cut]);
        while d.next_frame().unwrap().is_some() {
            n += 1;
        }
        d.push(&all[cut..]);
        while d.next_frame().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 5, "cut at {cut}");
    }
}

#[test]
fn lengths_are_bounded_even_with_a_valid_prelude_crc() {
    // A prelude whose CRC is right but which announces 32 MiB.
    let mut prelude = Vec::new();
    prelude.extend_from_slice(&(32u32 << 20).to_be_bytes());
    prelude.extend_from_slice(&0u32.to_be_bytes());
    let crc = crc32::hash(&prelude);
    prelude.extend_from_slice(&crc.to_be_bytes());
    let mut d = FrameDecoder::new();
    d.push(&prelude);
    assert!(matches!(d.next_frame(), Err(FrameError::BadLength { .. })));
    // Headers longer than the message.
    let mut prelude = Vec::new();
    prelude.extend_from_slice(&20u32.to_be_bytes());
    prelude.extend_from_slice(&8u32.to_be_bytes());
    let crc = crc32::hash(&prelude);
    prelude.extend_from_slice(&crc.to_be_bytes());
    let mut d = FrameDecoder::new();
    d.push(&prelude);
    assert!(matches!(d.next_frame(), Err(FrameError::BadLength { .. })));
}

#[test]
fn malformed_headers_under_valid_crcs_are_rejected() {
    // Header value type 10 does not exist; the CRCs are computed over it, so
    // only header parsing can catch it.
    let mut body = vec![1, b'x', 10];
    body.extend_from_slice(b"payload");
    let headers_len = 3u32;
    let total = (12 + body.len() + 4) as u32;
    let mut msg = Vec::new();
    msg.extend_from_slice(&total.to_be_bytes());
    msg.extend_from_slice(&headers_len.to_be_bytes());
    let crc = crc32::hash(&msg);
    msg.extend_from_slice(&crc.to_be_bytes());
    msg.extend_from_slice(&body);
    let crc = crc32::hash(&msg);
    msg.extend_from_slice(&crc.to_be_bytes());
    let mut d = FrameDecoder::new();
    d.push(&msg);
    assert_eq!(
        d.next_frame().unwrap_err(),
        FrameError::BadHeader("unknown value type")
    );
}
