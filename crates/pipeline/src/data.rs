//! Reading, typing, splitting and encoding the recipe's data.

use std::collections::HashSet;

use std::sync::Arc;

use distillery_data::{
    DataError, Kind, Labels, ReadOptions, Schema, SchemaOptions, Table, fingerprint,
    stratified_split,
};
use distillery_runtime::Encoder;
use distillery_train::{EncoderOptions, encode_rows, fit_encoder_with};

use crate::error::{Context, Result, data_error, refuse};
use crate::recipe::Recipe;

/// The data of a run, split and encoded.
pub struct Prepared {
    /// The training file, every row (splits are row indices into it).
    pub train_table: Arc<Table>,
    /// The separate test file, when the recipe names one (`[data] test`).
    pub test_table: Option<Arc<Table>>,
    /// Each column's inferred kind and why.
    pub schema: Schema,
    /// Labels of every row of the training table.
    pub labels: Labels,
    /// Rows of the training table the students train on.
    pub train_rows: Vec<usize>,
    /// Rows held out for early stopping.
    pub val_rows: Vec<usize>,
    /// Rows of [`Prepared::test_table`] used for testing (all labelled).
    pub test_rows: Vec<usize>,
    /// The class index of each test row, in `test_rows` order.
    pub test_labels: Vec<Option<u32>>,
    /// The feature columns (target and ignored columns left out), in encoding order.
    pub features: Vec<(String, Kind)>,
    /// Turns raw cells into the student's input vector; fitted on the training rows only.
    pub encoder: Encoder,
    /// Encoded training rows, row-major (`rows × encoder.width()`).
    pub train_x: Vec<f32>,
    /// Encoded validation rows.
    pub val_x: Vec<f32>,
    /// Encoded test rows.
    pub test_x: Vec<f32>,
    /// Content hash of the data files: the provenance every artifact records.
    pub fingerprint: String,
    /// How numeric features are encoded (`[student] value_levels`, `numeric_bins`), so a
    /// cross-validation fold refits the same encoding.
    pub encoder_options: EncoderOptions,
}

impl Prepared {
    /// The training file re-split for one cross-validation fold: the labelled rows in
    /// `held` become the test rows; every other row is split (stratified, seeded) into
    /// training and validation rows, and the encoder is refitted on the fold's training
    /// rows alone, so nothing about the held-out rows leaks into the student.
    pub fn fold(&self, held: &[usize], validation_fraction: f64, seed: u64) -> Result<Prepared> {
        let table = &self.train_table;
        let mut is_held = vec![false; table.n_rows()];
        held.iter().for_each(|&r| is_held[r] = true);
        let rest: Vec<usize> = (0..table.n_rows()).filter(|&r| !is_held[r]).collect();
        let rest_y: Vec<Option<u32>> = rest.iter().map(|&r| self.labels.y[r]).collect();
        let split = stratified_split(&rest_y, 0.0, validation_fraction, seed)?;
        let train_rows: Vec<usize> = split.train.iter().map(|&i| rest[i]).collect();
        let val_rows: Vec<usize> = split.validation.iter().map(|&i| rest[i]).collect();
        let encoder = fit_encoder_with(table, &self.features, &train_rows, &self.encoder_options)?;
        Ok(Prepared {
            train_table: Arc::clone(table),
            test_table: None,
            schema: self.schema.clone(),
            labels: self.labels.clone(),
            train_x: encode_rows(&encoder, table, &train_rows)?,
            val_x: encode_rows(&encoder, table, &val_rows)?,
            test_x: encode_rows(&encoder, table, held)?,
            train_rows,
            val_rows,
            test_rows: held.to_vec(),
            test_labels: held.iter().map(|&r| self.labels.y[r]).collect(),
            features: self.features.clone(),
            encoder,
            fingerprint: self.fingerprint.clone(),
            encoder_options: self.encoder_options.clone(),
        })
    }

    /// The table the test rows index into.
    pub fn test_table(&self) -> &Table {
        self.test_table.as_deref().unwrap_or(&self.train_table)
    }
}

/// Options for reading any file of this recipe.
pub fn read_options(recipe: &Recipe) -> ReadOptions {
    let mut keep_text: HashSet<String> = recipe.data.categorical.iter().cloned().collect();
    keep_text.insert(recipe.data.target.clone());
    ReadOptions {
        missing: recipe.data.missing.clone(),
        keep_text,
    }
}

/// Schema overrides of this recipe, with soft-label columns left out of the features.
pub fn schema_options(recipe: &Recipe, table: &Table) -> SchemaOptions {
    let mut ignore = recipe.data.ignore.clone();
    if let Some(prefix) = &recipe.teacher.columns {
        let extra: Vec<String> = table
            .names()
            .iter()
            .filter(|n| n.starts_with(prefix.as_str()) && !ignore.contains(n))
            .cloned()
            .collect();
        ignore.extend(extra);
    }
    SchemaOptions {
        target: recipe.data.target.clone(),
        categorical: recipe.data.categorical.clone(),
        numeric: recipe.data.numeric.clone(),
        ignore,
        text: recipe.data.text.clone(),
    }
}

/// Adds the rows of `[data] unlabelled` to the training table with a missing target, so
/// they land in the training split and learn from the teacher's soft labels alone. The
/// file must hold every feature column (and a soft-label teacher's columns).
fn append_unlabelled(
    recipe: &Recipe,
    train: &mut Table,
    schema: &Schema,
    path: &std::path::Path,
    options: &ReadOptions,
) -> Result<()> {
    let extra = Table::read(path, options)?;
    let mut needed: Vec<&str> = schema.features().iter().map(|c| c.name.as_str()).collect();
    if let Some(prefix) = &recipe.teacher.columns {
        needed.extend(
            train
                .names()
                .iter()
                .filter(|n| n.starts_with(prefix.as_str()))
                .map(String::as_str),
        );
    }
    if let Some(absent) = needed.iter().find(|n| extra.index_of(n).is_err()) {
        refuse!(
            "[data] unlabelled: {} has no column '{absent}'; it needs every feature column of {}{}",
            path.display(),
            recipe.data.train.display(),
            if recipe.teacher.columns.is_some() {
                " and the teacher's soft-label columns (a soft-label teacher cannot label new rows)"
            } else {
                ""
            }
        );
    }
    train
        .append(&extra, &[recipe.data.target.as_str()])
        .with_context(|| format!("[data] unlabelled: adding the rows of {}", path.display()))?;
    tracing::info!(
        "{} unlabelled rows from {} join the training rows",
        extra.n_rows(),
        path.display()
    );
    Ok(())
}

/// Reads, types, splits and encodes the data of `recipe`.
pub fn prepare(recipe: &Recipe) -> Result<Prepared> {
    prepare_with(recipe, true)
}

/// As [`prepare`]; without `encode`, the encoded matrices stay empty (the data checks
/// read the tables only, and the one-hot matrix of a wide file is its largest part).
pub fn prepare_with(recipe: &Recipe, encode: bool) -> Result<Prepared> {
    let options = read_options(recipe);
    let mut train_table = Table::read(&recipe.data.train, &options)?;
    let schema = Schema::infer(&train_table, &schema_options(recipe, &train_table))?;
    if let Some(path) = &recipe.data.unlabelled {
        append_unlabelled(recipe, &mut train_table, &schema, path, &options)?;
    }
    let target = train_table.column(&recipe.data.target)?;
    let labels =
        Labels::from_column(target, None).map_err(|v| data_error!("unexpected label '{v}'"))?;
    if labels.n_classes() < 2 {
        return Err(DataError::OneClass {
            column: recipe.data.target.clone(),
            classes: labels.n_classes(),
            path: recipe.data.train.clone(),
        }
        .into());
    }
    let features: Vec<(String, Kind)> = schema
        .features()
        .iter()
        .map(|c| (c.name.clone(), c.kind))
        .collect();
    if features.is_empty() {
        refuse!(
            "{}: no feature columns left after the target and ignored columns; check [data] ignore",
            recipe.data.train.display()
        );
    }
    let d = &recipe.data;
    let (split, test_table) = match &d.test {
        Some(path) => {
            let test = Table::read(path, &options)?;
            schema.check_columns(&test)?;
            (
                stratified_split(&labels.y, 0.0, d.validation_fraction, recipe.distill.seed)?,
                Some(test),
            )
        }
        None => (
            stratified_split(
                &labels.y,
                d.test_fraction,
                d.validation_fraction,
                recipe.distill.seed,
            )?,
            None,
        ),
    };
    let (test_rows, test_labels) = match &test_table {
        Some(test) => {
            let y = Labels::from_column(test.column(&d.target)?, Some(&labels.classes)).map_err(|v| {
                data_error!(
                    "{}: label '{v}' in column '{}' never occurs in the training file {}; the test file must use the training classes {:?}",
                    test.path().display(),
                    d.target,
                    d.train.display(),
                    labels.classes
                )
            })?;
            let rows: Vec<usize> = (0..test.n_rows()).filter(|&r| y.y[r].is_some()).collect();
            let labels_of: Vec<Option<u32>> = rows.iter().map(|&r| y.y[r]).collect();
            (rows, labels_of)
        }
        None => {
            let labels_of = split.test.iter().map(|&r| labels.y[r]).collect();
            (split.test.clone(), labels_of)
        }
    };
    if test_rows.is_empty() {
        refuse!("no labelled test rows; raise [data] test_fraction or give [data] test = \"file\"");
    }
    if split.train.iter().all(|&r| labels.y[r].is_none()) {
        refuse!(
            "no labelled training rows left after the split; lower test_fraction / validation_fraction"
        );
    }
    let value_levels = &recipe.student.value_levels;
    for name in value_levels {
        if !features
            .iter()
            .any(|(f, k)| f == name && *k == Kind::Numeric)
        {
            refuse!(
                "[student] value_levels: '{name}' is not a numeric feature column; numeric features are {}",
                features
                    .iter()
                    .filter(|(_, k)| *k == Kind::Numeric)
                    .map(|(f, _)| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let encoder_options = EncoderOptions {
        value_levels: value_levels.clone(),
        numeric_bins: recipe.student.numeric_bins,
        point_mass_levels: recipe.student.point_mass_levels
            && split.train.len() >= crate::recipe::POINT_MASS_MIN_ROWS,
        text: recipe.student.text.hashing(),
        // Word vectors shape only the encoded inputs: `check` without encoding skips them
        // (a transformer teacher takes a minute to make them).
        vectors: if encode {
            crate::text_vectors::word_vectors(recipe, &features, &train_table, &split.train)?
        } else {
            None
        },
    };
    let encoder = fit_encoder_with(&train_table, &features, &split.train, &encoder_options)?;
    let test_source = test_table.as_ref().unwrap_or(&train_table);
    let (train_x, val_x, test_x) = if encode {
        (
            encode_rows(&encoder, &train_table, &split.train)?,
            encode_rows(&encoder, &train_table, &split.validation)?,
            encode_rows(&encoder, test_source, &test_rows).with_context(|| {
                format!("encoding the test rows of {}", test_source.path().display())
            })?,
        )
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let mut fp = fingerprint(&train_table, &schema);
    if let Some(test) = &test_table {
        fp = blake3::hash(format!("{fp}{}", fingerprint(test, &schema)).as_bytes())
            .to_hex()
            .to_string();
    }
    Ok(Prepared {
        train_table: Arc::new(train_table),
        test_table: test_table.map(Arc::new),
        schema,
        labels,
        train_rows: split.train,
        val_rows: split.validation,
        test_rows,
        test_labels,
        features,
        encoder,
        train_x,
        val_x,
        test_x,
        fingerprint: fp,
        encoder_options,
    })
}
