//! Slice-based evaluation: teacher and student accuracy and their agreement on groups of
//! rows, for slices the user declares and for the weakest slices found automatically
//! (see [`discover`]). The *slice gap* is the largest drop of student vs teacher accuracy
//! in any declared or single-feature slice with enough labelled rows.

mod discover;
mod feature;
mod spec;
pub mod text;

pub use discover::{Discovery, DiscoveryOptions, Finding, SliceMetric, discover};
pub use feature::{MISSING_LEVEL, OTHER_LEVEL, SliceFeature, condition};
pub use spec::{Binning, SliceError, SliceSpec, search_features};

use serde::{Deserialize, Serialize};

use crate::argmax;

/// Per-row facts every slice statistic is built from.
#[derive(Debug, Clone)]
pub struct Outcomes {
    /// Student's argmax equals the label (`None`: unlabelled row).
    pub student_ok: Vec<Option<bool>>,
    /// Teacher's argmax equals the label.
    pub teacher_ok: Vec<Option<bool>>,
    /// Student's argmax equals the teacher's.
    pub agree: Vec<bool>,
    /// KL(teacher ‖ student) of the row, in nats.
    pub kl: Vec<f64>,
    /// False when there is no teacher: teacher accuracy, gaps and fidelity are then absent.
    pub has_teacher: bool,
}

impl Outcomes {
    /// From student and teacher probabilities (`n × k`) and labels.
    pub fn new(student: &[f32], teacher: &[f32], k: usize, y: &[Option<u32>]) -> Outcomes {
        let mut out = Outcomes {
            student_ok: Vec::with_capacity(y.len()),
            teacher_ok: Vec::with_capacity(y.len()),
            agree: Vec::with_capacity(y.len()),
            kl: Vec::with_capacity(y.len()),
            has_teacher: true,
        };
        for ((s, t), y) in student.chunks_exact(k).zip(teacher.chunks_exact(k)).zip(y) {
            out.kl.push(crate::row_kl(s, t));
            let (s, t) = (argmax(s), argmax(t));
            out.student_ok.push(y.map(|y| y as usize == s));
            out.teacher_ok.push(y.map(|y| y as usize == t));
            out.agree.push(s == t);
        }
        out
    }

    /// Student-only outcomes, for evaluating a student without its teacher.
    pub fn without_teacher(student: &[f32], k: usize, y: &[Option<u32>]) -> Outcomes {
        Outcomes {
            has_teacher: false,
            ..Outcomes::new(student, student, k, y)
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.agree.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.agree.is_empty()
    }
}

/// Counts over one group of rows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Tally {
    pub(crate) rows: usize,
    pub(crate) labelled: usize,
    pub(crate) student_ok: usize,
    pub(crate) teacher_ok: usize,
    pub(crate) agree: usize,
    pub(crate) kl: f64,
}

impl Tally {
    fn add(&mut self, o: &Outcomes, row: usize) {
        self.rows += 1;
        self.agree += usize::from(o.agree[row]);
        self.kl += o.kl[row];
        if let (Some(s), Some(t)) = (o.student_ok[row], o.teacher_ok[row]) {
            self.labelled += 1;
            self.student_ok += usize::from(s);
            self.teacher_ok += usize::from(t);
        }
    }

    fn total(o: &Outcomes) -> Tally {
        let mut t = Tally::default();
        (0..o.len()).for_each(|r| t.add(o, r));
        t
    }

    fn minus(self, other: Tally) -> Tally {
        Tally {
            rows: self.rows - other.rows,
            labelled: self.labelled - other.labelled,
            student_ok: self.student_ok - other.student_ok,
            teacher_ok: self.teacher_ok - other.teacher_ok,
            agree: self.agree - other.agree,
            kl: self.kl - other.kl,
        }
    }
}

/// One condition of a slice: `feature` takes `level`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// Column name.
    pub feature: String,
    /// Level name as in [`SliceFeature::levels`].
    pub level: String,
}

/// Teacher and student on one slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceStats {
    /// Readable description, e.g. `sex = Female ∧ age ≤ 28`.
    pub name: String,
    /// The conditions the rows meet.
    pub conditions: Vec<Condition>,
    /// Rows in the slice.
    pub rows: usize,
    /// Rows with a label.
    pub labelled: usize,
    /// Student accuracy on the labelled rows (`None` without labels).
    pub student_accuracy: Option<f64>,
    /// Teacher accuracy on the labelled rows.
    pub teacher_accuracy: Option<f64>,
    /// Share of rows where student and teacher agree (`None` without a teacher).
    pub fidelity: Option<f64>,
    /// Mean KL(teacher ‖ student) over the slice's rows, in nats.
    pub mean_kl: Option<f64>,
    /// Teacher accuracy minus student accuracy.
    pub gap: Option<f64>,
}

impl SliceStats {
    pub(crate) fn of(
        name: String,
        conditions: Vec<Condition>,
        t: Tally,
        has_teacher: bool,
    ) -> SliceStats {
        let rate = |x: usize, n: usize| (n > 0).then(|| x as f64 / n as f64);
        let student_accuracy = rate(t.student_ok, t.labelled);
        let teacher_accuracy = rate(t.teacher_ok, t.labelled).filter(|_| has_teacher);
        SliceStats {
            name,
            conditions,
            rows: t.rows,
            labelled: t.labelled,
            student_accuracy,
            teacher_accuracy,
            fidelity: rate(t.agree, t.rows).filter(|_| has_teacher),
            mean_kl: (t.rows > 0 && has_teacher).then(|| t.kl / t.rows as f64),
            gap: teacher_accuracy.zip(student_accuracy).map(|(t, s)| t - s),
        }
    }
}

/// A declared slice specification evaluated: one entry per level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceGroup {
    /// The feature (or cross) the slices come from.
    pub feature: String,
    /// One entry per non-empty level, in level order.
    pub slices: Vec<SliceStats>,
}

/// Evaluates every level of `feature` on `outcomes`.
pub fn evaluate(feature: &SliceFeature, outcomes: &Outcomes) -> SliceGroup {
    let mut tallies = vec![Tally::default(); feature.levels.len()];
    for (row, &code) in feature.codes.iter().enumerate() {
        tallies[code as usize].add(outcomes, row);
    }
    let slices = tallies
        .into_iter()
        .enumerate()
        .filter(|(_, t)| t.rows > 0)
        .map(|(level, t)| {
            let conditions = feature
                .name
                .split(" × ")
                .zip(feature.levels[level].split(" ∧ "))
                .map(|(f, l)| Condition {
                    feature: f.to_string(),
                    level: strip_feature(f, l),
                })
                .collect();
            SliceStats::of(
                feature.condition(level as u32),
                conditions,
                t,
                outcomes.has_teacher,
            )
        })
        .collect();
    SliceGroup {
        feature: feature.name.clone(),
        slices,
    }
}

/// The level part of a cross's condition text (`sex = F` → `F`; `age ≤ 3` → `≤ 3`).
fn strip_feature(feature: &str, text: &str) -> String {
    let rest = text.strip_prefix(feature).unwrap_or(text).trim_start();
    rest.strip_prefix("= ").unwrap_or(rest).to_string()
}

/// The largest teacher-minus-student accuracy drop and where it happens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceGap {
    /// Teacher accuracy minus student accuracy in the slice.
    pub gap: f64,
    /// The slice.
    pub slice: SliceStats,
}

/// The slice with the largest gap among `slices` with at least `min_labelled` labelled rows.
pub fn slice_gap<'a>(
    slices: impl IntoIterator<Item = &'a SliceStats>,
    min_labelled: usize,
) -> Option<SliceGap> {
    slices
        .into_iter()
        .filter(|s| s.labelled >= min_labelled.max(1))
        .filter_map(|s| s.gap.map(|g| (g, s)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(gap, s)| SliceGap {
            gap,
            slice: s.clone(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcomes() -> Outcomes {
        // 4 rows: student right on rows 0, 1; teacher right on all; they agree on 0, 1.
        let t = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0];
        let s = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        Outcomes::new(&s, &t, 2, &[Some(0), Some(0), Some(1), Some(1)])
    }

    #[test]
    fn evaluate_counts_each_level() {
        let f = SliceFeature::categorical("g", &["a".into(), "b".into()], &[0, 0, 1, 1]);
        let g = evaluate(&f, &outcomes());
        assert_eq!(g.slices.len(), 2);
        assert_eq!(g.slices[0].name, "g = a");
        assert_eq!(g.slices[0].student_accuracy, Some(1.0));
        assert_eq!(g.slices[1].student_accuracy, Some(0.0));
        assert_eq!(g.slices[1].teacher_accuracy, Some(1.0));
        assert_eq!(g.slices[1].fidelity, Some(0.0));
        let gap = slice_gap(&g.slices, 1).unwrap();
        assert_eq!(gap.gap, 1.0);
        assert_eq!(gap.slice.name, "g = b");
        assert!(slice_gap(&g.slices, 3).is_none());
    }

    #[test]
    fn without_a_teacher_there_is_no_gap() {
        let s = [1.0, 0.0, 0.0, 1.0];
        let o = Outcomes::without_teacher(&s, 2, &[Some(0), Some(0)]);
        let f = SliceFeature::categorical("g", &["a".into(), "b".into()], &[0, 1]);
        let g = evaluate(&f, &o);
        assert_eq!(g.slices[1].student_accuracy, Some(0.0));
        assert_eq!(g.slices[1].teacher_accuracy, None);
        assert_eq!(g.slices[1].fidelity, None);
        assert!(slice_gap(&g.slices, 1).is_none());
    }

    #[test]
    fn crosses_split_into_conditions() {
        let a = SliceFeature::categorical("g", &["a".into(), "b".into()], &[0, 0, 1, 1]);
        let b = SliceFeature::bins("x", &[1.0, 5.0, 1.0, 5.0], &[2.0]);
        let g = evaluate(&a.cross(&b), &outcomes());
        assert_eq!(g.slices[0].name, "g = a ∧ x ≤ 2");
        assert_eq!(
            g.slices[0].conditions,
            [
                Condition {
                    feature: "g".into(),
                    level: "a".into()
                },
                Condition {
                    feature: "x".into(),
                    level: "≤ 2".into()
                }
            ]
        );
    }
}
