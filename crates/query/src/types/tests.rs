use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::*;

fn column_type(sql_type: &str) -> Result<Type, QueryError> {
    let sql = format!("CREATE TABLE t (c {sql_type})");
    let stmt = Parser::parse_sql(&PostgreSqlDialect {}, &sql)
        .unwrap()
        .remove(0);
    let datafusion::sql::sqlparser::ast::Statement::CreateTable(ct) = stmt else {
        panic!("not a create table")
    };
    iceberg_type("c", &ct.columns[0].data_type)
}

#[test]
fn every_documented_type_maps_to_iceberg() {
    use PrimitiveType as P;
    let cases = [
        ("BOOLEAN", P::Boolean),
        ("SMALLINT", P::Int),
        ("INT", P::Int),
        ("BIGINT", P::Long),
        ("REAL", P::Float),
        ("DOUBLE PRECISION", P::Double),
        (
            "DECIMAL(12,3)",
            P::Decimal {
                precision: 12,
                scale: 3,
            },
        ),
        ("TEXT", P::String),
        ("VARCHAR(20)", P::String),
        ("BYTEA", P::Binary),
        ("DATE", P::Date),
        ("TIME", P::Time),
        ("TIME WITHOUT TIME ZONE", P::Time),
        ("TIMESTAMP", P::Timestamp),
        ("TIMESTAMPTZ", P::Timestamptz),
        ("TIMESTAMP WITH TIME ZONE", P::Timestamptz),
        ("UUID", P::Uuid),
        ("JSON", P::String),
    ];
    for (sql, expected) in cases {
        assert_eq!(
            column_type(sql).unwrap(),
            Type::Primitive(expected),
            "{sql}"
        );
    }
}

#[test]
fn time_with_time_zone_is_refused() {
    let err = column_type("TIME WITH TIME ZONE").unwrap_err();
    assert!(err.to_string().contains("not supported"), "{err}");
}

#[test]
fn bad_decimal_is_refused_with_the_column_named() {
    let err = column_type("DECIMAL(50,2)").unwrap_err();
    assert!(err.to_string().contains("column \"c\""), "{err}");
    let err = column_type("DECIMAL(5,7)").unwrap_err();
    assert!(err.to_string().contains("scale"), "{err}");
}

#[test]
fn arrays_are_lists_of_their_element_whatever_the_brackets() {
    use PrimitiveType as P;
    let list = |element| list_of(Type::Primitive(element));
    assert_eq!(column_type("INT[]").unwrap(), list(P::Int));
    assert_eq!(column_type("INT[][]").unwrap(), list(P::Int));
    assert_eq!(column_type("TEXT[3]").unwrap(), list(P::String));
    assert_eq!(column_type("DOUBLE PRECISION[]").unwrap(), list(P::Double));
    for refused in ["SMALLINT[]", "UUID[]", "VARBIT[]"] {
        let err = column_type(refused).unwrap_err();
        assert!(err.to_string().contains("arrays of"), "{refused}: {err}");
    }
}

#[test]
fn nested_ids_follow_the_top_level_ones() {
    let mut next = 5;
    let Type::List(list) = number_nested(&column_type("INT[]").unwrap(), &mut next) else {
        panic!("not a list");
    };
    assert_eq!(list.element_field.id, 5);
    assert!(!list.element_field.required);
    assert_eq!(next, 6);
}
