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
