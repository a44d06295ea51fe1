//! A transformer teacher over one text column, run in this process: the Hugging Face
//! tokenizer (`tokenizer.json`, the `tokenizers` crate) and an ONNX graph taking
//! `input_ids`, `attention_mask` and `token_type_ids` (int64 `[batch, sequence]`) and
//! giving class probabilities (`tools/text_teacher.py` builds one: a sentence encoder,
//! pooling and a classification head), run by tract. Texts are labelled in batches of
//! similar length, padded to the batch's longest, the batches spread over the cores.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use distillery_data::Table;
use rayon::prelude::*;
use tract_onnx::prelude::*;

use crate::error::{Result, TeacherError};
use crate::rows::Teacher;

/// Texts per batch: similar lengths together, so little padding is computed.
const BATCH: usize = 16;
/// Tokens read per text when the model does not say (its `max_seq_length`).
const DEFAULT_MAX_TOKENS: usize = 256;

/// A tokenizer and a transformer graph that label one text column.
pub struct TextTeacher {
    plan: Arc<TypedRunnableModel>,
    tokenizer: tokenizers::Tokenizer,
    column: String,
    /// The teacher's own class order (its `distillery.classes` metadata).
    own: Vec<String>,
    /// For each of the caller's classes, its index in `own`.
    order: Vec<usize>,
    classes: Vec<String>,
    max_tokens: usize,
    path: PathBuf,
}

fn model_error(path: &Path, message: String) -> TeacherError {
    TeacherError::Model {
        path: path.to_path_buf(),
        message,
    }
}

impl TextTeacher {
    /// Loads the graph at `onnx` and the tokenizer at `tokenizer`, to label `column` in the
    /// order of `classes` (matched by name against the graph's `distillery.classes`).
    ///
    /// # Errors
    /// A file is unreadable or malformed, tract cannot run the graph, or the classes differ.
    pub fn load(
        onnx: &Path,
        tokenizer: &Path,
        column: &str,
        classes: &[String],
    ) -> Result<TextTeacher> {
        let bytes = std::fs::read(onnx).map_err(|source| TeacherError::Io {
            path: onnx.to_path_buf(),
            source,
        })?;
        let proto = tract_onnx::onnx()
            .proto_model_for_read(&mut &bytes[..])
            .map_err(|e| model_error(onnx, format!("not an ONNX model: {e}")))?;
        let meta = |key: &str| {
            proto
                .metadata_props
                .iter()
                .find(|p| p.key == key)
                .map(|p| p.value.clone())
        };
        let own: Vec<String> = meta("distillery.classes")
            .and_then(|v| serde_json::from_str(&v).ok())
            .ok_or_else(|| {
                model_error(
                    onnx,
                    "carries no distillery.classes metadata (a JSON list of class names in output order); build it with tools/text_teacher.py".into(),
                )
            })?;
        let max_tokens = meta("distillery.text_teacher")
            .and_then(|v| serde_json::from_str::<serde_json::Value>(&v).ok())
            .and_then(|v| v["max_tokens"].as_u64())
            .map_or(DEFAULT_MAX_TOKENS, |m| m as usize);
        let order = classes
            .iter()
            .map(|c| own.iter().position(|o| o == c))
            .collect::<Option<Vec<usize>>>()
            .filter(|o| o.len() == own.len())
            .ok_or_else(|| {
                TeacherError::Feed(format!(
                    "teacher {} predicts {own:?} but the target's classes are {classes:?}; use a teacher trained on this target",
                    onnx.display()
                ))
            })?;
        let plan = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| TeacherError::Unsupported {
                path: onnx.to_path_buf(),
                message: format!("tract cannot run this model: {e:#}"),
            })?;
        let mut tokenizer = tokenizers::Tokenizer::from_file(tokenizer)
            .map_err(|e| model_error(tokenizer, format!("not a tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| model_error(onnx, format!("truncation: {e}")))?;
        tokenizer.with_padding(None);
        Ok(TextTeacher {
            plan,
            tokenizer,
            column: column.to_string(),
            own,
            order,
            classes: classes.to_vec(),
            max_tokens,
            path: onnx.to_path_buf(),
        })
    }

    /// Token ids of each text (truncated as the model was trained).
    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<i64>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| TeacherError::Runtime(format!("tokenising: {e}")))?;
        Ok(encodings
            .iter()
            .map(|e| e.get_ids().iter().map(|&i| i64::from(i)).collect())
            .collect())
    }
}

/// `plan` over the token-id rows `ids` in batches of `size`, taken in the order `order`,
/// spread over the cores; logs "transformer: i of n {what}" every tenth. Returns each
/// batch's row indices and its outputs.
fn run_batches(
    plan: &Arc<TypedRunnableModel>,
    ids: &[Vec<i64>],
    order: &[usize],
    size: usize,
    what: &str,
) -> Result<Vec<(Vec<usize>, Vec<f32>)>> {
    let done = std::sync::atomic::AtomicUsize::new(0);
    let step = (order.len() / 10).max(1000);
    order
        .par_chunks(size)
        .map(|chunk| {
            let batch: Vec<&Vec<i64>> = chunk.iter().map(|&i| &ids[i]).collect();
            let out = run_plan(plan, &batch)?;
            let before = done.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
            if (before + chunk.len()) / step > before / step {
                tracing::info!(
                    "transformer: {} of {} {what}",
                    before + chunk.len(),
                    order.len()
                );
            }
            Ok((chunk.to_vec(), out))
        })
        .collect()
}

/// The first output of `plan` for one batch of token-id rows, padded to the longest (the
/// attention mask marks the real tokens), flattened.
fn run_plan(plan: &Arc<TypedRunnableModel>, batch: &[&Vec<i64>]) -> Result<Vec<f32>> {
    let width = batch.iter().map(|r| r.len()).max().unwrap_or(1).max(1);
    let n = batch.len();
    let mut ids = vec![0i64; n * width];
    let mut mask = vec![0i64; n * width];
    for (i, row) in batch.iter().enumerate() {
        ids[i * width..i * width + row.len()].copy_from_slice(row);
        mask[i * width..i * width + row.len()].fill(1);
    }
    let tensor = |v: Vec<i64>| {
        tract_ndarray::Array2::from_shape_vec((n, width), v)
            .map(|a| a.into_tensor().into())
            .map_err(|e| TeacherError::Runtime(e.to_string()))
    };
    let out = plan
        .run(tvec!(
            tensor(ids)?,
            tensor(mask)?,
            tensor(vec![0i64; n * width])?
        ))
        .map_err(|e| TeacherError::Runtime(format!("{e:#}")))?;
    let p = out[0]
        .to_plain_array_view::<f32>()
        .map_err(|e| TeacherError::Runtime(e.to_string()))?;
    Ok(p.iter().copied().collect())
}

impl Teacher for TextTeacher {
    fn classes(&self) -> &[String] {
        &self.classes
    }

    fn label(&self, table: &Table, rows: &[usize]) -> Result<Vec<f32>> {
        let column = table
            .column(&self.column)
            .map_err(|e| TeacherError::Feed(e.to_string()))?;
        let texts: Vec<&str> = rows.iter().map(|&r| column.text(r).unwrap_or("")).collect();
        let ids = self.encode(&texts)?;
        // Longest first, in batches of similar length; answers go back to row order.
        let mut by_length: Vec<usize> = (0..ids.len()).collect();
        by_length.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let k = self.own.len();
        // A transformer labels tens of texts a second: say how far it got, every tenth.
        let answered = run_batches(&self.plan, &ids, &by_length, BATCH, "texts labelled")?;
        let mut out = vec![0f32; rows.len() * k];
        for (chunk, p) in answered {
            for (j, &i) in chunk.iter().enumerate() {
                let row = &p[j * k..(j + 1) * k];
                for (c, &o) in self.order.iter().enumerate() {
                    out[i * k + c] = row[o];
                }
            }
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        format!(
            "transformer {} over '{}' ({} tokens at most)",
            self.path.display(),
            self.column,
            self.max_tokens
        )
    }
}

/// The tensor of a `tools/text_teacher.py` graph that holds the pooled, L2-normalised
/// sentence embedding (before the classification head).
pub const EMBEDDING_OUTPUT: &str = "t_embedding";

/// Each word's sentence embedding, the word run through the teacher's encoder alone (as
/// Model2Vec builds static vectors): `words.len() × dim` values, row-major, and `dim`.
/// The graph must carry [`EMBEDDING_OUTPUT`]; words go in batches of similar length over
/// the cores, with a progress line every tenth.
///
/// # Errors
/// A file is unreadable or malformed, the graph has no embedding tensor, or tract fails.
pub fn word_embeddings(
    onnx: &Path,
    tokenizer: &Path,
    words: &[String],
) -> Result<(Vec<f32>, usize)> {
    let bytes = std::fs::read(onnx).map_err(|source| TeacherError::Io {
        path: onnx.to_path_buf(),
        source,
    })?;
    let unsupported = |e: TractError| TeacherError::Unsupported {
        path: onnx.to_path_buf(),
        message: format!("tract cannot run this model's encoder: {e:#}"),
    };
    let mut model = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .map_err(unsupported)?;
    model.select_outputs_by_name([EMBEDDING_OUTPUT]).map_err(|_| {
        model_error(
            onnx,
            format!("has no '{EMBEDDING_OUTPUT}' tensor to take word vectors from; build the teacher with tools/text_teacher.py, or give [student.text] vectors a .vec file"),
        )
    })?;
    let plan = model
        .into_optimized()
        .and_then(|m| m.into_runnable())
        .map_err(unsupported)?;
    let mut tok = tokenizers::Tokenizer::from_file(tokenizer)
        .map_err(|e| model_error(tokenizer, format!("not a tokenizer.json: {e}")))?;
    tok.with_padding(None);
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let ids: Vec<Vec<i64>> = tok
        .encode_batch(refs, true)
        .map_err(|e| TeacherError::Runtime(format!("tokenising: {e}")))?
        .iter()
        .map(|e| e.get_ids().iter().map(|&i| i64::from(i)).collect())
        .collect();
    let mut by_length: Vec<usize> = (0..ids.len()).collect();
    by_length.sort_by_key(|&i| (ids[i].len(), i));
    let parts = run_batches(
        &plan,
        &ids,
        &by_length,
        64,
        "words through the teacher's encoder",
    )?;
    let dim = parts
        .first()
        .map_or(0, |(chunk, out)| out.len() / chunk.len().max(1));
    let mut values = vec![0f32; words.len() * dim];
    for (chunk, out) in parts {
        for (j, &i) in chunk.iter().enumerate() {
            values[i * dim..(i + 1) * dim].copy_from_slice(&out[j * dim..(j + 1) * dim]);
        }
    }
    Ok((values, dim))
}
