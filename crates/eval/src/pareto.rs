//! The Pareto front of a sweep: candidates no other candidate beats on both accuracy
//! (higher is better) and a cost such as latency or bytes (lower is better).

/// `true` for each point that no other point dominates. Point `b` dominates `a` when it is
/// at least as accurate and at most as costly, and strictly better in one of the two.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<bool> {
    points
        .iter()
        .map(|&(acc, cost)| {
            !points
                .iter()
                .any(|&(a, c)| a >= acc && c <= cost && (a > acc || c < cost))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominated_points_are_off_the_front() {
        // (accuracy, cost)
        let pts = [
            (0.80, 1.0),
            (0.85, 2.0),
            (0.84, 3.0),
            (0.90, 5.0),
            (0.90, 6.0),
        ];
        assert_eq!(pareto_front(&pts), [true, true, false, true, false]);
    }

    #[test]
    fn ties_stay_on_the_front() {
        assert_eq!(pareto_front(&[(0.8, 1.0), (0.8, 1.0)]), [true, true]);
    }
}
