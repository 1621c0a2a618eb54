{#- A few of dbt's cross-database macros, in their Spark forms (the `dbt.` namespace). -#}

{% macro string_literal(value) -%}{{ __glue_string_literal(value) }}{%- endmacro %}
{% macro current_timestamp() -%}current_timestamp(){%- endmacro %}
{% macro type_string() -%}string{%- endmacro %}
{% macro type_int() -%}int{%- endmacro %}
{% macro type_bigint() -%}bigint{%- endmacro %}
{% macro type_float() -%}float{%- endmacro %}
{% macro type_numeric() -%}decimal(28,6){%- endmacro %}
{% macro type_timestamp() -%}timestamp{%- endmacro %}
{% macro type_boolean() -%}boolean{%- endmacro %}
{% macro concat(fields) -%}concat({{ fields | join(', ') }}){%- endmacro %}
{% macro hash(field) -%}md5(cast({{ field }} as string)){%- endmacro %}
{% macro safe_cast(field, type) -%}cast({{ field }} as {{ type }}){%- endmacro %}
{% macro date_trunc(datepart, date) -%}date_trunc({{ __glue_string_literal(datepart) }}, {{ date }}){%- endmacro %}
{% macro cast_bool_to_text(field) -%}cast({{ field }} as string){%- endmacro %}
