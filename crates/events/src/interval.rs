//! Availability as sets of time intervals, and their intersection.
//!
//! Every time here is a count of seconds since the Unix epoch, in UTC: the
//! events service stores and compares instants only, and time zones matter
//! only at the edges where a person reads or types a time ([`crate::zone`]).
//!
//! An [`Interval`] is half-open, `[start, end)`, and never empty. An
//! [`Availability`] is a set of them kept in one normal form: sorted,
//! disjoint and not touching (`[9:00, 10:00)` and `[10:00, 11:00)` are one
//! interval, `[9:00, 11:00)`), so two equal sets are equal values and the
//! intersection is one linear merge.
//!
//! Intersection follows the seed's rule of **strict overlap**: two intervals
//! meet only if `max(start) < min(end)`, so intervals that merely touch share
//! no time. Unlike the seed's Erlang code, which took the pairwise product of
//! interval lists without merging, the result here is again in normal form and
//! keeps every interval; the intersection is commutative, associative and
//! idempotent, which is what lets event servers fold constraints in any order,
//! on any server, and count a repeated submission once.

pub use convene_time::IntervalError;

/// A non-empty, half-open span of time `[start, end)`, in Unix seconds:
/// the same interval meet and booking use ([`convene_time::Interval`]),
/// counted in seconds.
pub type Interval = convene_time::Interval<i64>;

/// A set of intervals in normal form: sorted, disjoint, not touching
/// ([`convene_time::SlotList`]). Build one with `collect()` or
/// [`SlotList::normalize`](convene_time::SlotList::normalize), which merge
/// overlapping and touching intervals; [`intersect`] is one linear merge
/// with strict overlap.
///
/// [`intersect`]: convene_time::SlotList::intersect
pub type Availability = convene_time::SlotList<i64>;

/// An event server's running intersection for one event: nothing yet, or
/// the intersection of every constraint folded in so far.
///
/// "Nothing yet" is not the same as "no time": an event nobody has answered
/// has no constraint, while answers that share no time intersect to
/// an empty [`Availability`], and stay empty whatever comes later.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Partial(Option<Availability>);

impl Partial {
    /// No constraint folded in yet.
    pub fn none() -> Self {
        Partial(None)
    }

    /// Folds one more constraint in: the partial becomes its intersection
    /// with `constraint` (or `constraint` itself if it is the first).
    pub fn fold(&mut self, constraint: &Availability) {
        self.0 = Some(match self.0.take() {
            None => constraint.clone(),
            Some(current) => current.intersect(constraint),
        });
    }

    /// Folds another server's partial in (the leader's step at the deadline).
    pub fn merge(&mut self, other: &Partial) {
        if let Some(constraint) = &other.0 {
            self.fold(constraint);
        }
    }

    /// The intersection so far, or `None` if nothing was folded in.
    pub fn current(&self) -> Option<&Availability> {
        self.0.as_ref()
    }

    /// Makes a partial from a stored value.
    pub fn from_current(current: Option<Availability>) -> Self {
        Partial(current)
    }

    /// The final answer: the common time, empty if there is none or nobody
    /// gave any constraint.
    pub fn into_result(self) -> Availability {
        self.0.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn iv(start: i64, end: i64) -> Interval {
        Interval::new(start, end).unwrap()
    }

    fn set(pairs: &[(i64, i64)]) -> Availability {
        pairs.iter().map(|&(s, e)| iv(s, e)).collect()
    }

    /// Whether the instant `t` is in `a`.
    fn holds(a: &Availability, t: i64) -> bool {
        a.iter().any(|iv| iv.start() <= t && t < iv.end())
    }

    #[test]
    fn an_interval_must_end_after_it_starts() {
        assert_eq!(Interval::new(5, 5), Err(IntervalError::Empty));
        assert_eq!(Interval::new(6, 5), Err(IntervalError::Empty));
        assert!(Interval::new(5, 6).is_ok());
    }

    #[test]
    fn the_seeds_documented_examples() {
        // calculator:intersect([{10,20},{25,35}],[{15,30}]) -> [{15,20},{25,30}]
        assert_eq!(
            set(&[(10, 20), (25, 35)]).intersect(&set(&[(15, 30)])),
            set(&[(15, 20), (25, 30)])
        );
        // calculator:intersect([{10,20}],[{21,30}]) -> no_solution
        assert!(set(&[(10, 20)]).intersect(&set(&[(21, 30)])).is_empty());
        // final_intersection([[{10,20},{25,35}],[{15,30}]]) -> [{15,20},{25,30}]
        let mut partial = Partial::none();
        partial.fold(&set(&[(10, 20), (25, 35)]));
        partial.fold(&set(&[(15, 30)]));
        assert_eq!(partial.into_result(), set(&[(15, 20), (25, 30)]));
    }

    #[test]
    fn touching_intervals_share_no_time_but_merge_within_one_set() {
        assert!(set(&[(10, 20)]).intersect(&set(&[(20, 30)])).is_empty());
        assert_eq!(set(&[(10, 20), (20, 30)]).as_slice(), &[iv(10, 30)]);
        assert_eq!(
            set(&[(10, 25), (20, 30), (40, 50)]).as_slice(),
            &[iv(10, 30), iv(40, 50)]
        );
    }

    #[test]
    fn no_constraint_is_not_the_same_as_no_time() {
        let mut partial = Partial::none();
        assert_eq!(partial.current(), None);
        partial.fold(&set(&[(10, 20)]));
        partial.fold(&set(&[(30, 40)]));
        assert_eq!(partial.current(), Some(&Availability::new()));
        partial.fold(&set(&[(0, 100)]));
        assert!(partial.into_result().is_empty(), "empty stays empty");
    }

    fn arb_set() -> impl Strategy<Value = Availability> {
        prop::collection::vec((0i64..200, 1i64..40), 0..8)
            .prop_map(|pairs| pairs.into_iter().map(|(s, len)| iv(s, s + len)).collect())
    }

    fn normal(a: &Availability) -> bool {
        a.as_slice().windows(2).all(|w| w[0].end() < w[1].start())
    }

    proptest! {
        #[test]
        fn intersection_is_pointwise_and_way_of_folding_does_not_matter(
            a in arb_set(), b in arb_set(), c in arb_set()
        ) {
            let ab = a.intersect(&b);
            prop_assert!(normal(&ab));
            for t in -1..250 {
                prop_assert_eq!(holds(&ab, t), holds(&a, t) && holds(&b, t), "t = {}", t);
            }
            prop_assert_eq!(&ab, &b.intersect(&a));
            prop_assert_eq!(ab.intersect(&c), a.intersect(&b.intersect(&c)));
            prop_assert_eq!(a.intersect(&a), a.clone());
        }

        #[test]
        fn partials_on_several_servers_give_the_same_result_as_one(
            constraints in prop::collection::vec(arb_set(), 0..10), split in 0usize..10
        ) {
            let mut one = Partial::none();
            for c in &constraints { one.fold(c); }
            let split = split.min(constraints.len());
            let (mut left, mut right) = (Partial::none(), Partial::none());
            for c in &constraints[..split] { left.fold(c); }
            for c in &constraints[split..] { right.fold(c); }
            // A repeated submission (a retried request) changes nothing.
            if let Some(c) = constraints.first() { right.fold(c); }
            let mut leader = Partial::none();
            leader.merge(&right);
            leader.merge(&left);
            prop_assert_eq!(leader, one);
        }
    }
}
