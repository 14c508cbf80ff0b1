//! Virtual-node smooth weighted round robin: nginx's smooth weighted round
//! robin, its sequence generated once (lazily, a batch of `n` nodes at a
//! time, as tengine's VNSWRR does) and then walked with a cursor: O(1)
//! per pick once generated, O(n) per generated node before.
//!
//! Bounds (weights may come from discovery, so from a peer): the weights
//! are divided by their greatest common divisor, then scaled down in
//! proportion (each at least 1) until the cycle is at most [`MAX_CYCLE`]
//! nodes; a pick walks at most [`MAX_WALK`] positions past servers that
//! cannot serve before it scans the servers themselves.

/// The most nodes one cycle holds (4 bytes each).
pub(crate) const MAX_CYCLE: usize = 1 << 20;

/// The most positions a pick walks past servers that cannot serve.
const MAX_WALK: usize = 64;

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
        let weights = bounded(weights);
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

    /// The next main for which `ok` holds: the walk goes on past those
    /// that cannot serve for at most [`MAX_WALK`] positions (a cycle if
    /// shorter), then the first main after the last one walked that can
    /// serve; the cursor moves past the positions walked.
    pub(crate) fn next(&mut self, mut ok: impl FnMut(usize) -> bool) -> Option<usize> {
        if self.total == 0 {
            return None;
        }
        let mut last = 0;
        for _ in 0..self.total.min(MAX_WALK) {
            let pos = self.cursor;
            self.cursor = (self.cursor + 1) % self.total;
            last = self.at(pos);
            if ok(last) {
                return Some(last);
            }
        }
        let n = self.weights.len();
        (1..=n).map(|i| (last + i) % n).find(|&m| ok(m))
    }
}

/// The weights divided by their greatest common divisor, then scaled
/// down in proportion (each at least 1) until they sum to at most
/// [`MAX_CYCLE`] (or to the number of servers, if that is more).
fn bounded(mut weights: Vec<u32>) -> Vec<u32> {
    let g = weights.iter().fold(0, |g, &w| gcd(g, w));
    if g > 1 {
        weights.iter_mut().for_each(|w| *w /= g);
    }
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if total > MAX_CYCLE as u64 {
        for w in &mut weights {
            *w = ((u64::from(*w) * MAX_CYCLE as u64 / total) as u32).max(1);
        }
    }
    weights
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
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

    #[test]
    fn a_light_server_is_found_past_a_long_run_of_a_heavy_one() {
        // The light server holds one position in 65,536: more than a walk.
        let mut v = Vnswrr::new(vec![65535, 1], 0);
        for _ in 0..3 {
            assert_eq!(v.next(|m| m == 1), Some(1));
        }
        assert_eq!(v.next(|_| false), None);
    }

    #[test]
    fn the_cycle_is_bounded_and_keeps_the_proportions() {
        // Equal weights: one node per server.
        assert_eq!(Vnswrr::new(vec![65535; 1000], 0).cycle(), 1000);
        // 65,536 servers of weights 65535 and 1, in turn: a peer's worst.
        let weights: Vec<u32> = (0..65536).map(|i| if i % 2 == 0 { 65535 } else { 1 }).collect();
        let v = Vnswrr::new(weights, 0);
        assert!(v.cycle() <= MAX_CYCLE + 65536, "{}", v.cycle());
        assert_eq!(bounded(vec![6, 4, 2]), [3, 2, 1]);
        let scaled = bounded(vec![3 << 20, 1 << 20, 1]);
        assert_eq!(scaled.len(), 3);
        assert!((f64::from(scaled[0]) / f64::from(scaled[1]) - 3.0).abs() < 1e-3, "{scaled:?}");
        assert_eq!(scaled[2], 1);
    }
}
