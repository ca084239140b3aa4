use super::*;

#[test]
fn format_and_compression_come_from_the_name() {
    assert_eq!(
        detect(Path::new("/x/a.csv")),
        (Some(Format::Csv), Compression::None)
    );
    assert_eq!(
        detect(Path::new("a.CSV.gz")),
        (Some(Format::Csv), Compression::Gzip)
    );
    assert_eq!(
        detect(Path::new("a.ndjson.zst")),
        (Some(Format::Json), Compression::Zstd)
    );
    assert_eq!(
        detect(Path::new("a.parquet")),
        (Some(Format::Parquet), Compression::None)
    );
    assert_eq!(detect(Path::new("a.bin")), (None, Compression::None));
}

#[test]
fn header_lines_split_with_quotes() {
    assert_eq!(
        split_csv_line("a,\"b,c\",d", b',', b'"'),
        vec!["a", "b,c", "d"]
    );
    assert_eq!(
        split_csv_line("a|\"x\"\"y\"", b'|', b'"'),
        vec!["a", "x\"y"]
    );
}

#[test]
fn the_first_unparseable_value_is_found() {
    let text = StringArray::from(vec![Some("1"), None, Some("x"), Some("4")]);
    let (_, bad) = parse_column(&DataType::Int64, &text);
    assert_eq!(bad, Some(2));
    let (typed, bad) = parse_column(&DataType::Boolean, &StringArray::from(vec!["t", "off"]));
    assert_eq!(bad, None);
    assert_eq!(typed.len(), 2);
    assert_eq!(parse_bytea("\\x0aff"), Some(vec![10, 255]));
    assert_eq!(parse_bytea("\\x0"), None);
}
