//! `[distill] adversarial`: where the training batches' adversarial rows may move, from the
//! encoder and the encoded training rows.

use distillery_runtime::FeatureEncoder;
use distillery_train::evasion::{Attack, Constraints, Norm};

use crate::data::Prepared;
use crate::error::{Result, refuse};
use crate::recipe::AdversarialSection;

/// The attack and the constraints for adversarial training: each numeric feature's
/// standardised slot moves inside its training range unless immutable or missing (its
/// missing indicator freezes it), and (with `categorical`, the default) each categorical
/// feature not immutable may switch to another of its levels; every other slot stays.
///
/// # Errors
/// An immutable column that is not a feature.
pub(crate) fn plan(
    section: &AdversarialSection,
    prepared: &Prepared,
) -> Result<(Attack, Constraints)> {
    let encoder = &prepared.encoder;
    for name in &section.immutable {
        if !encoder.features.iter().any(|f| f.name() == name) {
            refuse!(
                "[distill] adversarial: immutable column '{name}' is not a feature; features are {}",
                encoder.names().join(", ")
            );
        }
    }
    let width = encoder.width();
    let mut c = Constraints {
        lo: vec![f32::NEG_INFINITY; width],
        hi: vec![f32::INFINITY; width],
        movable: vec![0.0; width],
        frozen_by: vec![None; width],
        categorical: Vec::new(),
    };
    let rows = prepared.train_x.len() / width.max(1);
    let mut at = 0;
    for feature in &encoder.features {
        if let FeatureEncoder::Numeric {
            name,
            missing_indicator,
            ..
        } = feature
            && !section.immutable.contains(name)
        {
            let column = (0..rows).map(|r| prepared.train_x[r * width + at]);
            let (lo, hi) = column.fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
            if lo < hi {
                c.movable[at] = 1.0;
                c.lo[at] = lo;
                c.hi[at] = hi;
                c.frozen_by[at] = missing_indicator.then_some(at + 1);
            }
        }
        if let FeatureEncoder::Categorical { name, levels, .. } = feature
            && section.categorical
            && levels.len() > 1
            && !section.immutable.contains(name)
        {
            c.categorical.push(at..at + levels.len());
        }
        at += feature.width();
    }
    let eps = section.epsilon;
    let attack = Attack::pgd(
        Norm::Inf,
        eps,
        2.5 * eps / section.steps as f32,
        section.steps,
    );
    Ok((attack, c))
}
