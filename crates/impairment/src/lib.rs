//! Seeded network dice, the same on every machine: which packets a lossy line drops, randomly
//! or in Gilbert bursts. The media engine's offline simulation (`seatline_media::sim`) and the
//! test harness's impairment relay (`seatline_sip_peers::relay`) draw from these, so a
//! condition means the same in the offline table and in the benchmark's real calls.

/// SplitMix64: small, seedable and identical everywhere (a condition must replay exactly from
/// its seed).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How packets are lost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    None,
    /// Each packet independently, with this probability (0–100 %).
    Random {
        percent: f64,
    },
    /// The simple Gilbert model: a good state that loses nothing and a bad state that loses
    /// everything; `percent` is the long-run loss and `mean_burst` the mean run of losses
    /// (in packets).
    Bursty {
        percent: f64,
        mean_burst: f64,
    },
}

impl Loss {
    /// Why this loss cannot be drawn, if it cannot.
    pub fn problem(&self) -> Option<String> {
        let bad = |p: f64| !(0.0..=100.0).contains(&p);
        match *self {
            Loss::Random { percent } if bad(percent) => {
                Some(format!("loss {percent}% is outside 0-100"))
            }
            Loss::Bursty {
                percent,
                mean_burst,
            } if bad(percent) || mean_burst.is_nan() || mean_burst < 1.0 => Some(format!(
                "bursty loss {percent}% with mean burst {mean_burst} (wants 0-100 % and a burst of at least 1)"
            )),
            _ => None,
        }
    }
}

/// One direction's loss state (the Gilbert model remembers whether it is in a burst).
#[derive(Debug, Clone)]
pub struct LossModel {
    loss: Loss,
    bad: bool,
}

impl LossModel {
    pub fn new(loss: Loss) -> Self {
        Self { loss, bad: false }
    }

    /// Whether the next packet is lost.
    pub fn lost(&mut self, rng: &mut Rng) -> bool {
        match self.loss {
            Loss::None => false,
            Loss::Random { percent } => rng.unit() < percent / 100.0,
            Loss::Bursty {
                percent,
                mean_burst,
            } => {
                // Leaving the bad state ends a burst (mean length 1/r); entering it at rate p
                // keeps the long-run loss at p / (p + r).
                let r = 1.0 / mean_burst.max(1.0);
                let l = (percent / 100.0).clamp(0.0, 0.99);
                let p = r * l / (1.0 - l);
                let u = rng.unit();
                self.bad = if self.bad { u >= r } else { u < p };
                self.bad
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (packets lost, bursts) over `n` packets.
    fn count(loss: Loss, seed: u64, n: usize) -> (usize, usize) {
        let mut rng = Rng::new(seed);
        let mut m = LossModel::new(loss);
        let (mut lost, mut bursts, mut prev) = (0, 0, false);
        for _ in 0..n {
            let l = m.lost(&mut rng);
            if l {
                lost += 1;
                if !prev {
                    bursts += 1;
                }
            }
            prev = l;
        }
        (lost, bursts)
    }

    #[test]
    fn random_loss_hits_its_rate_and_replays_from_the_seed() {
        let loss = Loss::Random { percent: 10.0 };
        let (lost, bursts) = count(loss, 7, 100_000);
        assert!((9_500..10_500).contains(&lost), "{lost}");
        // Independent losses: about 1.1 packets a burst.
        assert!(lost as f64 / (bursts as f64) < 1.2, "{lost} in {bursts}");
        assert_eq!(count(loss, 7, 100_000), (lost, bursts));
        assert_ne!(count(loss, 8, 100_000), (lost, bursts));
        assert_eq!(count(Loss::None, 7, 1000), (0, 0));
    }

    #[test]
    fn bursty_loss_comes_in_runs_of_the_asked_mean_length() {
        let (lost, bursts) = count(
            Loss::Bursty {
                percent: 10.0,
                mean_burst: 3.0,
            },
            42,
            200_000,
        );
        assert!((18_000..22_000).contains(&lost), "{lost}");
        let mean = lost as f64 / bursts as f64;
        assert!((2.8..3.2).contains(&mean), "mean burst {mean}");
    }

    #[test]
    fn impossible_losses_are_named() {
        assert!(Loss::Random { percent: 120.0 }.problem().is_some());
        assert!(Loss::Bursty {
            percent: 10.0,
            mean_burst: 0.5
        }
        .problem()
        .is_some());
        assert!(Loss::Random { percent: 5.0 }.problem().is_none());
    }

    #[test]
    fn unit_draws_stay_in_range() {
        let mut rng = Rng::new(1);
        assert!((0..10_000)
            .map(|_| rng.unit())
            .all(|u| (0.0..1.0).contains(&u)));
    }
}
