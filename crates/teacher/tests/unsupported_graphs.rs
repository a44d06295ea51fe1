//! Teachers as users often export them, that distillery cannot run yet, get an error that
//! names the cause: the operator and its node, or every input with its type.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking"
)]

use distillery_onnx::{
    GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto, TensorShapeProto, TypeProto,
    ValueInfoProto, tensor_proto, tensor_shape_proto, type_proto,
};
use distillery_teacher::{OnnxModel, OnnxOptions};

fn tensor(name: &str, elem: tensor_proto::DataType, width: i64) -> ValueInfoProto {
    let dim = |v| tensor_shape_proto::Dimension {
        value: Some(v),
        ..Default::default()
    };
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem as i32),
                shape: Some(TensorShapeProto {
                    dim: vec![
                        dim(tensor_shape_proto::dimension::Value::DimParam("N".into())),
                        dim(tensor_shape_proto::dimension::Value::DimValue(width)),
                    ],
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn load(graph: GraphProto) -> String {
    let model = ModelProto {
        ir_version: Some(8),
        opset_import: vec![
            OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(17),
            },
            OperatorSetIdProto {
                domain: Some("ai.onnx.ml".into()),
                version: Some(3),
            },
        ],
        graph: Some(graph),
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("teacher.onnx");
    std::fs::write(&path, model.encode_to_vec()).unwrap();
    match OnnxModel::load(&path, &OnnxOptions::default()) {
        Ok(_) => panic!("the model should be refused"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_ml_operator_we_do_not_run_is_named_with_its_node() {
    let graph = GraphProto {
        node: vec![NodeProto {
            name: Some("svm".into()),
            op_type: Some("SVMClassifier".into()),
            domain: Some("ai.onnx.ml".into()),
            input: vec!["x".into()],
            output: vec!["probabilities".into()],
            ..Default::default()
        }],
        input: vec![tensor("x", tensor_proto::DataType::Float, 2)],
        output: vec![tensor("probabilities", tensor_proto::DataType::Float, 2)],
        ..Default::default()
    };
    let message = load(graph);
    assert!(message.contains("ai.onnx.ml.SVMClassifier"), "{message}");
    assert!(message.contains("node 'svm'"), "{message}");
}

#[test]
fn one_input_per_column_with_an_operator_we_do_not_run_names_it_and_lists_the_inputs() {
    let graph = GraphProto {
        node: vec![NodeProto {
            name: Some("project".into()),
            op_type: Some("MatMul".into()),
            input: vec!["age".into(), "age".into()],
            output: vec!["probabilities".into()],
            ..Default::default()
        }],
        input: vec![
            tensor("age", tensor_proto::DataType::Float, 1),
            tensor("workclass", tensor_proto::DataType::String, 1),
        ],
        output: vec![tensor("probabilities", tensor_proto::DataType::Float, 2)],
        ..Default::default()
    };
    let message = load(graph);
    assert!(
        message.contains("ai.onnx.MatMul (node 'project')"),
        "{message}"
    );
    assert!(
        message.contains("inputs: 'age': float, 'workclass': string"),
        "{message}"
    );
}

#[test]
fn one_input_per_column_with_nothing_computing_the_output_is_refused() {
    let graph = GraphProto {
        input: vec![
            tensor("age", tensor_proto::DataType::Float, 1),
            tensor("workclass", tensor_proto::DataType::String, 1),
        ],
        output: vec![tensor("probabilities", tensor_proto::DataType::Float, 2)],
        ..Default::default()
    };
    let message = load(graph);
    assert!(
        message.contains("no node computes 'probabilities'"),
        "{message}"
    );
}
