//! Concatenation that copies only when it must: a single piece is handed on
//! as the same `Bytes` (a slice of what arrived), several are joined once.

use bytes::{Bytes, BytesMut};

#[derive(Default)]
pub struct Joiner {
    first: Option<Bytes>,
    joined: Option<BytesMut>,
}

impl Joiner {
    pub fn push(&mut self, piece: Bytes) {
        match (&mut self.joined, self.first.take()) {
            (Some(j), _) => j.extend_from_slice(&piece),
            (None, Some(f)) => {
                let mut j = BytesMut::with_capacity(f.len() + piece.len() + 256);
                j.extend_from_slice(&f);
                j.extend_from_slice(&piece);
                self.joined = Some(j);
            }
            (None, None) => self.first = Some(piece),
        }
    }

    pub fn len(&self) -> usize {
        self.first.as_ref().map_or(0, Bytes::len) + self.joined.as_ref().map_or(0, BytesMut::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Everything pushed, or `None` when nothing was.
    pub fn finish(self) -> Option<Bytes> {
        match self.joined {
            Some(j) => Some(j.freeze()),
            None => self.first,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_piece_is_not_copied_several_are_joined() {
        let piece = Bytes::from_static(b"abc");
        let mut j = Joiner::default();
        j.push(piece.clone());
        let out = j.finish().unwrap();
        assert_eq!(out.as_ptr(), piece.as_ptr());
        let mut j = Joiner::default();
        for p in [&b"ab"[..], b"", b"cd", b"e"] {
            j.push(Bytes::copy_from_slice(p));
        }
        assert_eq!(j.len(), 5);
        assert_eq!(&j.finish().unwrap()[..], b"abcde");
        assert!(Joiner::default().finish().is_none());
    }
}
