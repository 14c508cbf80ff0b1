//! Virtual-node smooth weighted round robin: nginx's smooth weighted round
//! robin, its sequence generated once (lazily, a batch of `n` nodes at a
//! time, as tengine's VNSWRR does) and then walked with a cursor: O(1)
//! per pick once generated, O(n) per generated node before.

/// The generated sequence and the SWRR state that extends it.
#[derive(Debug)]
pub(crate) struct Vnswrr {
    weights: Vec<i64>,
    total: usize,
    current: Vec<i64>,
    seq: Vec<u32>,
    cursor: usize,
}

impl Vnswrr {
    /// For mains of these weights; the walk starts at `start` (random,
    /// so that processes do not move in step).
    pub(crate) fn new(weights: Vec<u32>, start: usize) -> Vnswrr {
        let total = weights.iter().map(|w| *w as usize).sum::<usize>();
        let n = weights.len();
        Vnswrr {
            weights: weights.into_iter().map(i64::from).collect(),
            total,
            current: vec![0; n],
            seq: Vec::new(),
            cursor: if total == 0 { 0 } else { start % total },
        }
    }

    /// The length of the whole cycle: the sum of the weights.
    #[cfg(test)]
    pub(crate) fn cycle(&self) -> usize {
        self.total
    }

    /// The main at position `pos` of the cycle, generating up to it.
    fn at(&mut self, pos: usize) -> usize {
        while self.seq.len() <= pos {
            // A batch of n nodes at a time (at most to the cycle's end).
            let batch = self.weights.len().max(1).min(self.total - self.seq.len());
            for _ in 0..batch {
                let mut best = 0;
                for (j, w) in self.weights.iter().enumerate() {
                    self.current[j] += w;
                    if self.current[j] > self.current[best] {
                        best = j;
                    }
                }
                self.current[best] -= self.total as i64;
                self.seq.push(best as u32);
            }
        }
        self.seq[pos] as usize
    }

    /// The next main for which `ok` holds, walking at most one cycle;
    /// the cursor moves past it.
    pub(crate) fn next(&mut self, mut ok: impl FnMut(usize) -> bool) -> Option<usize> {
        if self.total == 0 {
            return None;
        }
        for _ in 0..self.total {
            let pos = self.cursor;
            self.cursor = (self.cursor + 1) % self.total;
            let main = self.at(pos);
            if ok(main) {
                return Some(main);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_and_exact() {
        // nginx's example: weights 5, 1, 1 → a a b a c a a.
        let mut v = Vnswrr::new(vec![5, 1, 1], 0);
        let picks: Vec<usize> = (0..14).map(|_| v.next(|_| true).unwrap()).collect();
        assert_eq!(picks, [0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0]);
        assert_eq!(v.cycle(), 7);
    }

    #[test]
    fn walks_past_unavailable_and_gives_up_after_a_cycle() {
        let mut v = Vnswrr::new(vec![2, 3], 1);
        for _ in 0..10 {
            assert_eq!(v.next(|m| m == 0), Some(0));
        }
        assert_eq!(v.next(|_| false), None);
        let mut empty = Vnswrr::new(vec![], 0);
        assert_eq!(empty.next(|_| true), None);
    }
}
