//! Object bodies that differ in every 4 KiB block, generated and checked at memcpy speed.
//!
//! A server that deduplicates blocks (Garage does, by hash) would look faster on repeated
//! bodies than on real data, so every 4 KiB-aligned block starts with a stamp of the object's
//! seed and the block's offset; the bytes between stamps come from one random buffer. The
//! same function regenerates any range, so a GET is checked as it streams, with no copy of
//! the object kept.

use bytes::Bytes;

/// Stamps repeat at this stride: every aligned block of it, or of any multiple, is unique.
const STAMP_STRIDE: u64 = 4096;
const STAMP_LEN: usize = 16;
/// The filler: a prime length, so the filler under two stamps never lines up the same way.
const FILLER_LEN: usize = 65_521;

/// The bodies of one benchmark run: `seed` keeps two runs (or two objects) from sharing bytes.
#[derive(Clone)]
pub struct Bodies {
    filler: Bytes,
    run_seed: u64,
}

impl Bodies {
    pub fn new(run_seed: u64) -> Bodies {
        let mut state = run_seed | 1;
        let mut filler = Vec::with_capacity(FILLER_LEN);
        while filler.len() < FILLER_LEN {
            // xorshift64*: cheap, and plenty for bytes no compressor or deduper can fold.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let word = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            let take = word.len().min(FILLER_LEN - filler.len());
            filler.extend_from_slice(&word[..take]);
        }
        Bodies {
            filler: filler.into(),
            run_seed,
        }
    }

    /// The seed stamped into object `index`'s blocks.
    fn object_seed(&self, index: u64) -> u64 {
        self.run_seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// Bytes `offset..offset + out.len()` of object `index`.
    pub fn fill(&self, index: u64, offset: u64, out: &mut [u8]) {
        let mut at = 0;
        while at < out.len() {
            let pos = (offset + at as u64) as usize % FILLER_LEN;
            let take = (FILLER_LEN - pos).min(out.len() - at);
            out[at..at + take].copy_from_slice(&self.filler[pos..pos + take]);
            at += take;
        }
        let seed = self.object_seed(index);
        let end = offset + out.len() as u64;
        // A stamp that began before `offset` is cut to the part inside the range.
        let mut block = (offset / STAMP_STRIDE) * STAMP_STRIDE;
        while block < end {
            let stamp = stamp(seed, block);
            for (i, b) in stamp.iter().enumerate() {
                let p = block + i as u64;
                if p >= offset && p < end {
                    out[(p - offset) as usize] = *b;
                }
            }
            block += STAMP_STRIDE;
        }
    }

    /// All of object `index`, for bodies small enough to send in one piece.
    pub fn whole(&self, index: u64, len: u64) -> Bytes {
        let mut v = vec![0; len as usize];
        self.fill(index, 0, &mut v);
        v.into()
    }

    /// A checker for object `index` read from `offset` on.
    pub fn checker(&self, index: u64, offset: u64) -> Checker {
        Checker {
            bodies: self.clone(),
            index,
            offset,
            scratch: Vec::new(),
        }
    }
}

fn stamp(seed: u64, block: u64) -> [u8; STAMP_LEN] {
    let mut s = [0; STAMP_LEN];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[8..].copy_from_slice(&block.to_le_bytes());
    s
}

/// Compares a body as it arrives against what was written.
pub struct Checker {
    bodies: Bodies,
    index: u64,
    offset: u64,
    scratch: Vec<u8>,
}

impl Checker {
    /// Checks the next piece; the error names the first offset that differs.
    pub fn check(&mut self, piece: &[u8]) -> Result<(), String> {
        self.scratch.resize(piece.len(), 0);
        self.bodies.fill(self.index, self.offset, &mut self.scratch);
        if self.scratch != piece {
            let bad = self
                .scratch
                .iter()
                .zip(piece)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            return Err(format!(
                "body differs from what was written at byte {}",
                self.offset + bad as u64
            ));
        }
        self.offset += piece.len() as u64;
        Ok(())
    }

    /// Bytes seen so far (plus the starting offset).
    pub fn position(&self) -> u64 {
        self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn any_range_matches_the_whole() {
        let b = Bodies::new(7);
        let whole = b.whole(3, 20_000);
        for (off, len) in [
            (0, 1),
            (5, 30),
            (4090, 20),
            (4096, 4096),
            (12_000, 8000),
            (0, 0),
        ] {
            let mut part = vec![0; len];
            b.fill(3, off, &mut part);
            assert_eq!(
                &part[..],
                &whole[off as usize..off as usize + len],
                "{off}+{len}"
            );
        }
    }

    #[test]
    fn every_block_differs_across_objects_and_offsets() {
        let b = Bodies::new(11);
        let mut seen = HashSet::new();
        for index in 0..4 {
            let body = b.whole(index, 64 * 4096);
            for block in body.chunks(4096) {
                assert!(seen.insert(block.to_vec()), "a repeated 4 KiB block");
            }
        }
        assert_ne!(Bodies::new(1).whole(0, 64), Bodies::new(2).whole(0, 64));
    }

    #[test]
    fn the_checker_accepts_the_body_in_pieces_and_names_a_flipped_byte() {
        let b = Bodies::new(5);
        let body = b.whole(9, 10_000);
        let mut ok = b.checker(9, 0);
        for piece in body.chunks(777) {
            ok.check(piece).unwrap();
        }
        assert_eq!(ok.position(), 10_000);

        let mut bad = body.to_vec();
        bad[5000] ^= 1;
        let mut c = b.checker(9, 0);
        let err = bad.chunks(4096).map(|p| c.check(p)).find_map(Result::err);
        assert_eq!(
            err.unwrap(),
            "body differs from what was written at byte 5000"
        );
        // Another object's bytes are not this object's.
        assert!(b.checker(8, 0).check(&body[..64]).is_err());
    }
}
