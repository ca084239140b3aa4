use super::*;
use arrow::array::{Array, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::TimeUnit;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
            true,
        ),
        Field::new("props", DataType::Utf8, true),
    ]))
}

#[test]
fn ndjson_rows_decode_with_objects_as_json_text() {
    let body = br#"{"id": 1, "name": "a\u00e9", "at": "2024-01-01T00:00:00Z", "props": {"z": [1, 2], "a": 0}}

{"id": 2}
"#;
    let d = decode(Format::Ndjson, body, &schema(), None).unwrap();
    assert!(d.rejected.is_empty(), "{:?}", d.rejected);
    assert_eq!(d.batch.num_rows(), 2);
    let ids = d
        .batch
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(ids.values(), &[1, 2]);
    let props = d
        .batch
        .column(3)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    // Nested JSON is kept as sent: key order and spacing.
    assert_eq!(props.value(0), r#"{"z": [1, 2], "a": 0}"#);
    let names = d
        .batch
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(names.value(0), "a\u{e9}");
    assert!(props.is_null(1));
    let at = d
        .batch
        .column(2)
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    assert_eq!(at.value(0), 1_704_067_200_000_000);
}

#[test]
fn each_bad_row_is_named_by_line_field_and_reason() {
    let body = b"{\"id\": 1}\n{\"id\": \"x\"}\nnot json\n{\"name\": \"no id\"}\n{\"id\": 5, \"extra\": 1}\n{\"id\": 6}\n";
    let d = decode(Format::Ndjson, body, &schema(), None).unwrap();
    assert_eq!(d.batch.num_rows(), 2);
    let got: Vec<_> = d
        .rejected
        .iter()
        .map(|r| {
            (
                r.row,
                r.field.as_deref(),
                r.reason.split(':').next().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                2,
                Some("id"),
                "invalid input syntax for type bigint".to_string()
            ),
            (3, None, "invalid JSON".to_string()),
            (
                4,
                Some("id"),
                "null value violates not-null constraint".to_string()
            ),
            (5, Some("extra"), "the table has no such column".to_string()),
        ]
    );
    assert_eq!(d.rejected[0].raw, "{\"id\": \"x\"}");
    let msg = describe(Format::Ndjson, &d.rejected);
    assert!(
        msg.starts_with("4 row(s) rejected: line 2, field \"id\""),
        "{msg}"
    );
}

#[test]
fn json_arrays_count_by_index_and_bad_arrays_say_where() {
    let d = decode(
        Format::JsonArray,
        br#"[{"id": 1}, {"id": true}, 3]"#,
        &schema(),
        None,
    )
    .unwrap();
    assert_eq!(d.batch.num_rows(), 1);
    assert_eq!(
        d.rejected.iter().map(|r| r.row).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let err = decode(Format::JsonArray, b"[{\"id\": 1},\n {", &schema(), None).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn csv_with_header_reads_empty_fields_as_null() {
    let body = b"id,name\n1,a\n2,\n3,c,extra\nx,d\n";
    let d = decode(Format::Csv, body, &schema(), None).unwrap();
    assert_eq!(d.batch.num_rows(), 2);
    let names = d
        .batch
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert!(names.is_null(1));
    assert_eq!(
        d.rejected
            .iter()
            .map(|r| (r.row, r.raw.as_str()))
            .collect::<Vec<_>>(),
        vec![(4, "3,c,extra"), (5, "x,d")]
    );
    let err = decode(Format::Csv, b"id,nope\n1,2\n", &schema(), None).unwrap_err();
    assert!(matches!(err, IngestError::UnknownField { ref field } if field == "nope"));
}

#[test]
fn compressed_bodies_are_bounded() {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&[b'a'; 10_000]).unwrap();
    let gz = gz.finish().unwrap();
    assert_eq!(decompress(Some("gzip"), &gz, 20_000).unwrap().len(), 10_000);
    assert!(matches!(
        decompress(Some("gzip"), &gz, 1_000),
        Err(IngestError::TooLarge { limit: 1_000 })
    ));
    let zst = zstd::encode_all(&b"{\"id\":1}\n"[..], 1).unwrap();
    assert_eq!(
        &decompress(Some("zstd"), &zst, 100).unwrap()[..],
        &b"{\"id\":1}\n"[..]
    );
    assert!(matches!(
        decompress(Some("br"), b"", 10),
        Err(IngestError::UnsupportedEncoding { .. })
    ));
}

#[test]
fn schemas_are_inferred_from_first_values_and_widened() {
    let body = b"{\"id\": 1, \"v\": 1, \"at\": \"2024-01-01T00:00:00Z\", \"ok\": true}\n{\"v\": 2.5, \"s\": \"x\"}\n";
    let schema = infer_schema(Format::Ndjson, body).unwrap();
    let got: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| (f.name().as_str(), type_name(f.data_type())))
        .collect();
    assert_eq!(
        got,
        vec![
            ("id", "bigint".to_string()),
            ("v", "double precision".to_string()),
            ("at", "timestamptz".to_string()),
            ("ok", "boolean".to_string()),
            ("s", "text".to_string()),
        ]
    );
}

#[test]
fn content_types_pick_formats() {
    assert_eq!(Format::from_content_type(None).unwrap(), Format::Ndjson);
    assert_eq!(
        Format::from_content_type(Some("text/csv; charset=utf-8")).unwrap(),
        Format::Csv
    );
    assert!(Format::from_content_type(Some("text/xml")).is_err());
}

#[test]
fn escaped_keys_and_values_are_unescaped() {
    let body = br#"{"i\u0064": 7, "name": "say \"hi\"\n"}"#;
    let d = decode(Format::Ndjson, body, &schema(), None).unwrap();
    assert!(d.rejected.is_empty(), "{:?}", d.rejected);
    let ids = d
        .batch
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(ids.value(0), 7);
    let names = d
        .batch
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(names.value(0), "say \"hi\"\n");
}

/// Fragments that make random bodies reach deep into the decoders.
const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"id\"",
    "\"name\"",
    "\"at\"",
    "\"props\"",
    "\"x\"",
    "1",
    "-9223372036854775809",
    "1e400",
    "null",
    "true",
    "\"\\u00e9\"",
    "\"\\ud800\"",
    "\"é\"",
    "\n",
    "\r\n",
    "\"",
    "\\",
    "id,name,at,props",
    "a,b",
    "2024-13-45T99:00:00Z",
    "\0",
    " ",
];

fn body_from(parts: &[usize], raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        body.extend_from_slice(FRAGMENTS[p % FRAGMENTS.len()].as_bytes());
        if let Some(b) = raw.get(i)
            && b % 7 == 0
        {
            body.push(*b);
        }
    }
    body
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..Default::default()
    })]

    /// Whatever a client sends, decoding answers rows or an error, never a
    /// panic; so do schema inference and decompression.
    #[test]
    fn issue14_decoders_never_panic_on_any_body(
        parts in proptest::collection::vec(0usize..64, 0..60),
        raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
    ) {
        for body in [body_from(&parts, &raw), raw.clone()] {
            for format in [Format::Ndjson, Format::JsonArray, Format::Csv, Format::ArrowIpc] {
                let mut extra = Vec::new();
                let _ = decode(format, &body, &schema(), Some(&mut extra));
                let _ = decode(format, &body, &schema(), None);
                let _ = infer_schema(format, &body);
            }
            for encoding in ["gzip", "zstd", "identity"] {
                let _ = decompress(Some(encoding), &body, 1 << 16);
            }
        }
    }

    /// Every text value either parses as its column type or is named as bad.
    #[test]
    fn issue14_text_values_parse_or_are_named_never_panic(
        values in proptest::collection::vec(".{0,12}", 0..20),
    ) {
        let text = StringArray::from(values.clone());
        for ty in [
            DataType::Int64,
            DataType::Float64,
            DataType::Boolean,
            DataType::Binary,
            DataType::FixedSizeBinary(16),
            DataType::Date32,
            DataType::Decimal128(12, 2),
            DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
        ] {
            let (typed, bad) = crate::values::parse_column(&ty, &text);
            proptest::prop_assert_eq!(typed.len(), values.len());
            for i in bad {
                proptest::prop_assert!(typed.is_null(i));
            }
        }
    }
}

#[test]
fn issue14_an_arrow_stream_declaring_more_than_it_sends_is_refused_without_allocating() {
    // Continuation marker, then 2 GiB of metadata that never come.
    let mut body = vec![0xff, 0xff, 0xff, 0xff];
    body.extend_from_slice(&i32::MAX.to_le_bytes());
    body.extend_from_slice(b"short");
    let err = decode(Format::ArrowIpc, &body, &schema(), None).unwrap_err();
    assert!(err.to_string().contains("bytes of metadata"), "{err}");
    // Inferring a table from such a stream (create=auto) is refused alike.
    let err = infer_schema(Format::ArrowIpc, &body).unwrap_err();
    assert!(err.to_string().contains("bytes of metadata"), "{err}");
}
