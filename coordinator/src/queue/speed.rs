//! Measured worker speeds, and the rules that keep a slow worker from
//! slowing a split task down.
//!
//! A worker's speed is what the queue sees of it: the cost of a part
//! ([`super::NewPart::work`]: its floating-point operations, plus the
//! reading of its task data at [`READ_FLOPS_PER_BYTE`], see [`part_cost`])
//! over the wall time from its lease to its accepted result (download,
//! compute and upload included), smoothed over the parts it computes
//! ([`Speed`]). A lease that
//! loses to a backup copy teaches the queue too: its holder had not
//! finished after the time it held the part, so it is at most that fast,
//! and is taken as half done ([`Speed::censor`]). A backup copy's own
//! result teaches nothing: it was computed while the rest of the crew was
//! idle, and the speeds plan parts computed all at once.
//!
//! The speeds serve three rules, all decided here from numbers passed in
//! (no clock, no I/O):
//!
//! - planning: the workers likely to take a split task's parts
//!   ([`Crew`]) give the parts' relative sizes ([`Crew::plan`],
//!   [`CrewPlan::rows_costs`]), fastest first, so that each planned worker
//!   finishes its part, reading included, at the same time; a worker
//!   [`FAR_SLOWER`] times slower than the fastest, or a slower one whose
//!   part would be mostly reading ([`MIN_ROWS_PER_READ`]), gets no part
//!   planned for it;
//! - leasing: a worker gets the pending part of the split task that fits
//!   its speed ([`pick_part`]), and a worker that would hold up a part that
//!   faster workers can finish sooner (one the plan left out, or one far
//!   too slow for the part) gets none while they may;
//! - backups: an idle worker may get a copy of a part whose holder is
//!   expected to finish well after the idle worker would ([`backup_gain`]).

use std::time::{Duration, Instant};

/// Weight of a new measurement in a worker's smoothed speed (the older
/// ones share the rest): a worker whose speed changes (a tab sent to the
/// background, a laptop on battery) is measured anew within a few parts.
pub(crate) const SPEED_WEIGHT: f64 = 0.5;

/// A worker this many times slower than the fastest worker seen gets no
/// part planned for it: its part would be so small that the part's fixed
/// costs (sending it `B`, reading `B`) outweigh its help.
pub(crate) const FAR_SLOWER: f64 = 8.0;

/// What reading one byte of a part's task data costs its worker, in
/// floating-point operations of the product: every part carries all of
/// `B`, which its worker downloads, hands to its kernel and parses before
/// it multiplies, however few rows of `A` it has. Measured on worker pages
/// in Chromium (n = 2048 integer products, a page slowed to a quarter of
/// the CPU time against its own times at half and at a fifth of the rows):
/// its part took about 0.4 of the whole product's compute time more than
/// its rows' share, about 480 flops per byte of `B`'s text; the kernel's
/// own parse of `B`, in node, is about 190. Counted at 400: a part of few
/// rows costs mostly its reading, and the plan weighs that.
pub(crate) const READ_FLOPS_PER_BYTE: u64 = 400;

/// A planned part's own rows cost at least this many times what reading
/// the data every part carries costs, unless its worker is about as fast
/// as the fastest ([`LEAVE_OUT_SLOWER`]): a slower worker whose part would
/// be smaller spends most of its time reading, the least certain part of
/// its time, for little gain, and is left out of the plan.
pub(crate) const MIN_ROWS_PER_READ: f64 = 0.5;

/// Only a worker this many times slower than the fastest planned one is
/// left out for a part of too few rows ([`MIN_ROWS_PER_READ`]): workers of
/// about one speed share a product however small their parts.
pub(crate) const LEAVE_OUT_SLOWER: f64 = 1.5;

/// A measured worker this much slower than the slowest worker a split
/// task was planned for (a worker the plan left out) gets none of its
/// parts while the planned workers may still take them.
pub(crate) const UNPLANNED_BELOW: f64 = 0.75;

/// The cost of a part of `flops` floating-point operations whose task data
/// is `bytes` long, in flops: what a worker's speed is measured by.
pub(crate) fn part_cost(flops: u128, bytes: usize) -> u64 {
    let reading = u128::from(READ_FLOPS_PER_BYTE).saturating_mul(bytes as u128);
    u64::try_from(flops.saturating_add(reading)).unwrap_or(u64::MAX)
}

/// A backup copy is handed out only when its holder is expected to need at
/// least this many times as long as the idle worker would for the whole
/// part ...
pub(crate) const BACKUP_MIN_RATIO: f64 = 1.1;

/// ... and at least this much longer.
pub(crate) const BACKUP_MIN_GAIN: Duration = Duration::from_millis(100);

/// A worker whose time for a part is more than this many times the split
/// task's planned time gets no part of it while a faster worker may still
/// take it (until twice the planned time has passed).
pub(crate) const SLOW_PART_FACTOR: f64 = 2.0;

/// A worker's smoothed speed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Speed {
    /// Floating-point operations per second of wall time.
    pub(super) flops_per_sec: f64,
    /// Measurements taken into it.
    pub(super) samples: u32,
}

impl Speed {
    /// The speed after a measurement of `sample` flops per second (the
    /// first one is taken as it is).
    pub(super) fn learn(speed: Option<Self>, sample: f64) -> Option<Self> {
        if !sample.is_finite() || sample <= 0.0 {
            return speed;
        }
        Some(match speed {
            None => Self {
                flops_per_sec: sample,
                samples: 1,
            },
            Some(old) => Self {
                flops_per_sec: old.flops_per_sec * (1.0 - SPEED_WEIGHT) + sample * SPEED_WEIGHT,
                samples: old.samples.saturating_add(1),
            },
        })
    }

    /// The speed of a worker that held `work` flops for `held` without
    /// finishing: at most `work / held`, taken as half done (`work / 2held`)
    /// unless it is already measured slower.
    pub(super) fn censor(speed: Option<Self>, work: u64, held: Duration) -> Option<Self> {
        let secs = held.as_secs_f64();
        if work == 0 || secs <= 0.0 {
            return speed;
        }
        let bound = work as f64 / (2.0 * secs);
        match speed {
            Some(old) if old.flops_per_sec <= bound => Some(old),
            _ => Self::learn(speed, bound).map(|mut s| {
                s.flops_per_sec = s.flops_per_sec.min(bound);
                s
            }),
        }
    }

    /// Seconds this speed needs for `work` flops.
    pub(super) fn secs_for(self, work: u64) -> f64 {
        work as f64 / self.flops_per_sec
    }
}

/// The workers likely to take the parts of a task submitted now (seen
/// recently and not benched), by their speeds (`None`: not measured yet).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Crew {
    speeds: Vec<Option<f64>>,
}

/// The relative sizes [`Crew::plan`] gives a split task's parts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CrewPlan {
    /// One speed per worker planned for, fastest first, in flops per
    /// second; a worker not measured yet counts at the median of the
    /// measured ones (at 1 when none is).
    pub(crate) speeds: Vec<f64>,
    /// Whether every speed was measured: then the split task's planned
    /// time is known and the lease rules use it.
    pub(crate) measured: bool,
}

impl Crew {
    /// A crew of workers with these speeds (flops per second).
    pub(crate) fn new(speeds: Vec<Option<f64>>) -> Self {
        Self { speeds }
    }

    /// How many workers it has.
    pub(crate) fn len(&self) -> usize {
        self.speeds.len()
    }

    /// The speeds to size at most `max` parts by: fastest first, without
    /// the workers [`FAR_SLOWER`] times slower than the fastest.
    pub(crate) fn plan(&self, max: usize) -> CrewPlan {
        let mut known: Vec<f64> = self
            .speeds
            .iter()
            .flatten()
            .copied()
            .filter(|s| s.is_finite() && *s > 0.0)
            .collect();
        known.sort_by(|a, b| b.total_cmp(a));
        let stand_in = known.get(known.len() / 2).copied().unwrap_or(1.0);
        let measured = !known.is_empty() && known.len() == self.speeds.len();
        let mut speeds: Vec<f64> = self
            .speeds
            .iter()
            .map(|s| s.filter(|s| s.is_finite() && *s > 0.0).unwrap_or(stand_in))
            .collect();
        speeds.sort_by(|a, b| b.total_cmp(a));
        let fastest = speeds.first().copied().unwrap_or(1.0);
        speeds.retain(|s| *s * FAR_SLOWER >= fastest);
        speeds.truncate(max);
        CrewPlan { speeds, measured }
    }
}

impl CrewPlan {
    /// The cost of the rows each planned worker should take, in its order,
    /// when the rows together cost `rows_cost` and every part costs
    /// `read_cost` more (reading what every part carries: `B`), so that
    /// every planned worker finishes at the same time `T`: a worker of
    /// speed `s` takes rows costing `s T - read_cost`, where
    /// `T = (rows_cost + workers * read_cost) / (sum of speeds)`. The
    /// slowest worker is left out of the plan (and of `speeds`), again and
    /// again, while its rows would cost less than [`MIN_ROWS_PER_READ`]
    /// times `read_cost` and it is [`LEAVE_OUT_SLOWER`] times slower than
    /// the fastest.
    pub(crate) fn rows_costs(&mut self, rows_cost: f64, read_cost: f64) -> Vec<f64> {
        let read_cost = read_cost.max(0.0);
        loop {
            let total: f64 = self.speeds.iter().sum();
            let workers = self.speeds.len() as f64;
            let t = (rows_cost + workers * read_cost) / total;
            let costs: Vec<f64> = self.speeds.iter().map(|s| s * t - read_cost).collect();
            let fastest = self.speeds.first().copied().unwrap_or(0.0);
            let slowest_short = match (costs.last(), self.speeds.last()) {
                (Some(cost), Some(speed)) => {
                    (*cost < MIN_ROWS_PER_READ * read_cost || !cost.is_finite())
                        && speed * LEAVE_OUT_SLOWER < fastest
                }
                _ => false,
            };
            if !slowest_short {
                return costs;
            }
            self.speeds.pop();
        }
    }
}

/// What the queue planned for a split task whose crew was measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SplitPace {
    /// The planned crew's speeds together, flops per second.
    pub(crate) rate: f64,
    /// The fastest planned worker's speed, flops per second.
    pub(crate) fastest: f64,
    /// The slowest planned worker's speed, flops per second.
    pub(crate) slowest: f64,
}

/// A split task's plan as the lease rules read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Pace {
    /// Seconds the crew needs for all of its parts.
    pub(super) planned_secs: f64,
    /// The fastest planned worker's speed.
    pub(super) fastest: f64,
    /// The slowest planned worker's speed.
    pub(super) slowest: f64,
    /// When the split task was submitted.
    pub(super) submitted_at: Instant,
}

/// Which pending part of a split task a worker gets, from the parts' work
/// (`(index, flops)`, in queue order), the worker's speed and the split
/// task's pace; `Err(left)` when the worker gets none of them for `left`
/// (it would hold up a part a faster worker can finish sooner), `Err` of
/// zero when no part is pending.
///
/// A measured worker gets the largest part it finishes within the planned
/// time (a little over, for measuring noise), or else the smallest; a
/// worker not measured yet gets the smallest (each part was sized for a
/// measured worker). A measured worker gets none for a while when it is
/// [`UNPLANNED_BELOW`] the slowest planned worker (the plan left it out),
/// or when its part would take it more than [`SLOW_PART_FACTOR`] times the
/// planned time and it is that many times slower than the fastest.
pub(super) fn pick_part(
    pending: &[(usize, u64)],
    speed: Option<Speed>,
    pace: Pace,
    now: Instant,
) -> Result<usize, Duration> {
    let Some(smallest) = pending.iter().min_by_key(|(_, work)| *work) else {
        return Err(Duration::ZERO);
    };
    let Some(speed) = speed else {
        return Ok(smallest.0);
    };
    let fair = speed.flops_per_sec * pace.planned_secs * 1.15;
    let fitting = pending
        .iter()
        .filter(|(_, work)| *work as f64 <= fair)
        .max_by_key(|(_, work)| *work);
    let pick = fitting.unwrap_or(smallest);
    let unplanned = speed.flops_per_sec < pace.slowest * UNPLANNED_BELOW;
    let too_slow = unplanned
        || (speed.secs_for(pick.1) > SLOW_PART_FACTOR * pace.planned_secs
            && speed.flops_per_sec * SLOW_PART_FACTOR < pace.fastest);
    let waited = now
        .saturating_duration_since(pace.submitted_at)
        .as_secs_f64();
    let left = SLOW_PART_FACTOR * pace.planned_secs - waited;
    if too_slow && left > 0.0 {
        return Err(Duration::from_secs_f64(left));
    }
    Ok(pick.0)
}

/// How much sooner a part of `work` flops is expected to be done if an
/// idle worker of speed `asker` computes a copy of it now, given that its
/// holder (of speed `holder`, if measured) took it `held` ago; `None` when
/// the gain is not worth a copy ([`BACKUP_MIN_RATIO`], [`BACKUP_MIN_GAIN`])
/// or when the asker's speed is not known.
///
/// The holder is expected to finish as its speed says. When it is already
/// late, it is expected to be late by as long again as it is now; when its
/// speed is not known, to need as long again as it has held the part (a
/// wait that has lasted `t` lasts, at the median, `2t`). So a measured
/// holder on time is never copied, and a late one only once it is late by
/// more than the asker needs for the whole part.
pub(super) fn backup_gain(
    work: u64,
    asker: Option<Speed>,
    holder: Option<Speed>,
    held: Duration,
) -> Option<Duration> {
    let asker_secs = asker?.secs_for(work);
    let held = held.as_secs_f64();
    let holder_left = match holder {
        Some(speed) => (speed.secs_for(work) - held).abs(),
        None => held,
    };
    let gain = holder_left - asker_secs;
    (holder_left >= asker_secs * BACKUP_MIN_RATIO && gain >= BACKUP_MIN_GAIN.as_secs_f64())
        .then(|| Duration::from_secs_f64(gain))
}

/// How long until a copy of the part described as in [`backup_gain`]
/// becomes worth handing out, if it ever does while nothing else changes
/// (its holder late or unmeasured: its expected time left grows with the
/// time it holds the part).
pub(super) fn backup_due_in(
    work: u64,
    asker: Option<Speed>,
    holder: Option<Speed>,
    held: Duration,
) -> Option<Duration> {
    let asker_secs = asker?.secs_for(work);
    let needed = (asker_secs * BACKUP_MIN_RATIO).max(asker_secs + BACKUP_MIN_GAIN.as_secs_f64());
    // A measured holder is copied once it is late by what the copy needs.
    let due = match holder {
        Some(speed) => speed.secs_for(work) + needed,
        None => needed,
    };
    let left = due - held.as_secs_f64();
    (left > 0.0 && left.is_finite()).then(|| Duration::from_secs_f64(left))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn speed(flops_per_sec: f64) -> Option<Speed> {
        Some(Speed {
            flops_per_sec,
            samples: 1,
        })
    }

    #[test]
    fn speeds_are_smoothed_and_censored_downwards_only() {
        let s = Speed::learn(None, 100.0);
        assert_eq!(s.unwrap().flops_per_sec, 100.0);
        let s = Speed::learn(s, 50.0).unwrap();
        assert_eq!((s.flops_per_sec, s.samples), (75.0, 2));
        assert_eq!(Speed::learn(Some(s), f64::NAN), Some(s));
        // 100 flops held 1 s without an answer: at most 50 flops/s.
        let c = Speed::censor(speed(1000.0), 100, Duration::from_secs(1)).unwrap();
        assert_eq!(c.flops_per_sec, 50.0);
        let slow = speed(10.0);
        assert_eq!(Speed::censor(slow, 100, Duration::from_secs(1)), slow);
        assert_eq!(
            Speed::censor(None, 100, Duration::from_secs(1))
                .unwrap()
                .flops_per_sec,
            50.0
        );
    }

    #[test]
    fn crews_plan_fastest_first_with_stand_ins_and_without_the_far_slower() {
        let crew = Crew::new(vec![Some(1.0), Some(4.0), None, Some(2.0)]);
        let plan = crew.plan(8);
        assert_eq!(plan.speeds, vec![4.0, 2.0, 2.0, 1.0]);
        assert!(!plan.measured);
        let plan = Crew::new(vec![Some(100.0), Some(10.0), Some(25.0)]).plan(8);
        assert_eq!(plan.speeds, vec![100.0, 25.0], "10 is 10x slower");
        assert!(plan.measured);
        assert_eq!(
            Crew::new(vec![Some(3.0), Some(2.0)]).plan(1).speeds,
            vec![3.0]
        );
        assert_eq!(Crew::new(vec![None; 2]).plan(8).speeds, vec![1.0, 1.0]);
    }

    #[test]
    fn parts_go_to_the_workers_they_fit() {
        let now = Instant::now();
        let pace = Pace {
            planned_secs: 1.0,
            fastest: 80.0,
            slowest: 20.0,
            submitted_at: now,
        };
        let parts = [(0, 80), (1, 20)];
        assert_eq!(pick_part(&parts, speed(80.0), pace, now), Ok(0));
        assert_eq!(pick_part(&parts, speed(20.0), pace, now), Ok(1));
        assert_eq!(pick_part(&parts, None, pace, now), Ok(1));
        // A worker far too slow for what is left waits while others may
        // take it (twice the planned time), then gets it.
        let wait = pick_part(&[(0, 80)], speed(20.0), pace, now);
        assert_eq!(wait, Err(Duration::from_secs(2)));
        let later = now + Duration::from_secs(2);
        assert_eq!(pick_part(&[(0, 80)], speed(20.0), pace, later), Ok(0));
        assert_eq!(pick_part(&[], speed(20.0), pace, now), Err(Duration::ZERO));
        // A worker the plan left out (slower than 0.75 of the slowest
        // planned) waits for the planned ones, even for a part it would
        // finish within twice the planned time.
        let left_out = pick_part(&parts, speed(14.0), pace, now);
        assert_eq!(left_out, Err(Duration::from_secs(2)));
        assert_eq!(pick_part(&parts, speed(14.0), pace, later), Ok(1));
        assert_eq!(pick_part(&parts, speed(15.0), pace, now), Ok(1));
    }

    #[test]
    fn plans_weigh_the_reading_every_part_carries() {
        let plan = |speeds: Vec<f64>| CrewPlan {
            speeds,
            measured: true,
        };
        // Nothing to read: the rows follow the speeds.
        let mut two = plan(vec![3.0, 1.0]);
        assert_eq!(two.rows_costs(100.0, 0.0), vec![75.0, 25.0]);
        // Each part reads 10: T = (100 + 2 * 10) / 4 = 30; the fast worker
        // takes 3 * 30 - 10 = 80, the slow one 30 - 10 = 20, and both
        // finish at T (90 / 3 and 30 / 1).
        let mut two = plan(vec![3.0, 1.0]);
        assert_eq!(two.rows_costs(100.0, 10.0), vec![80.0, 20.0]);
        assert_eq!(two.speeds, vec![3.0, 1.0]);
        // Reading 25: T = 150 / 4 = 37.5; the slow worker's rows would
        // cost 37.5 - 25 = 12.5, half its reading: kept.
        let mut two = plan(vec![3.0, 1.0]);
        assert_eq!(two.rows_costs(100.0, 25.0), vec![87.5, 12.5]);
        // Reading 40: its rows would cost 45 - 40 = 5, less than half its
        // reading: left out, the fast one takes all.
        let mut two = plan(vec![3.0, 1.0]);
        assert_eq!(two.rows_costs(100.0, 40.0), vec![100.0]);
        assert_eq!(two.speeds, vec![3.0]);
        // Two fast and one slow: only the slow one is left out.
        let mut three = plan(vec![4.0, 4.0, 1.0]);
        let costs = three.rows_costs(100.0, 20.0);
        assert_eq!(three.speeds, vec![4.0, 4.0]);
        assert_eq!(costs, vec![50.0, 50.0]);
        // Workers of about one speed share equally whatever the reading
        // costs.
        let mut equal = plan(vec![2.0, 2.0, 2.0]);
        let costs = equal.rows_costs(90.0, 1000.0);
        assert_eq!(costs, vec![30.0; 3]);
        // The fastest is kept, even alone with a part mostly reading.
        let mut one = plan(vec![5.0]);
        assert_eq!(one.rows_costs(1.0, 1000.0), vec![1.0]);
    }

    #[test]
    fn a_part_costs_its_flops_and_its_reading() {
        assert_eq!(part_cost(1000, 0), 1000);
        assert_eq!(part_cost(1000, 3), 1000 + 3 * READ_FLOPS_PER_BYTE);
        assert_eq!(part_cost(u128::MAX, usize::MAX), u64::MAX);
    }

    fn secs_f(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn backups_need_a_real_gain() {
        let secs = Duration::from_secs;
        // The holder needs 4 s for the part, the asker 1 s; held 1 s.
        let gain = backup_gain(100, speed(100.0), speed(25.0), secs(1));
        assert_eq!(gain, Some(secs(2)));
        // An equal holder on time: no gain.
        assert_eq!(backup_gain(100, speed(100.0), speed(100.0), secs(0)), None);
        // An unmeasured holder is expected to need as long again as it held.
        assert_eq!(backup_gain(100, speed(100.0), None, secs(1)), None);
        assert!(backup_gain(100, speed(100.0), None, secs(2)).is_some());
        // An unmeasured asker gets no copy.
        assert_eq!(backup_gain(100, None, speed(1.0), secs(50)), None);
        // When the copy becomes worth it.
        let due = backup_due_in(100, speed(100.0), None, secs(1)).unwrap();
        assert!((due.as_secs_f64() - 0.1).abs() < 1e-9, "{due:?}");
        assert!(backup_gain(100, speed(100.0), None, secs(1) + due).is_some());
        // A measured holder (2 s for the part) is waited for until it is
        // late by more than the asker needs (1.1 s).
        let due = backup_due_in(100, speed(100.0), speed(50.0), secs(1)).unwrap();
        assert!((due.as_secs_f64() - 2.1).abs() < 1e-9, "{due:?}");
        assert_eq!(backup_gain(100, speed(100.0), speed(50.0), secs(3)), None);
        assert!(backup_gain(100, speed(100.0), speed(50.0), secs_f(3.2)).is_some());
    }
}
