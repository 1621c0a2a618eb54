{#- The Spark forms of dbt's cross-database macros, as dbt-spark defines them (dbt-glue uses dbt-spark's): the SQL
    rendered here is the SQL dbt-glue sends to Glue. Override one in a project with a glue__<name> macro (or a
    spark__ / default__ one). -#}

{% macro spark__current_timestamp() -%}current_timestamp(){%- endmacro %}

{% macro spark__any_value(expression) -%}
    {#- any value of the group (non-deterministic) -#}
    first({{ expression }})
{%- endmacro %}

{#- bool_or and `any` exist from Spark 3 on; max works on Spark 2 too. -#}
{% macro spark__bool_or(expression) -%}max({{ expression }}){%- endmacro %}

{% macro spark__concat(fields) -%}concat({{ fields | join(', ') }}){%- endmacro %}

{#- Spark's string literals escape a quote with a backslash: they're -> they\'re. -#}
{% macro spark__escape_single_quotes(expression) -%}{{ expression | replace("'", "\\'") }}{%- endmacro %}

{#- Spark has no cast from a string to a struct, array or map: the field is then taken as an expression. -#}
{% macro spark__safe_cast(field, type) -%}
    {%- set field_clean = field.strip('"').strip("'") if (cast_from_string_unsupported_for(type) and field is string) else field -%}
    cast({{ field_clean }} as {{ type }})
{%- endmacro %}

{% macro cast_from_string_unsupported_for(type) -%}
    {{ return(type.lower().startswith('struct') or type.lower().startswith('array') or type.lower().startswith('map')) }}
{%- endmacro %}

{#- arrays -#}

{% macro spark__array_construct(inputs, data_type) -%}array( {{ inputs | join(' , ') }} ){%- endmacro %}

{% macro spark__array_concat(array_1, array_2) -%}concat({{ array_1 }}, {{ array_2 }}){%- endmacro %}

{% macro spark__array_append(array, new_element) -%}
    {{ array_concat(array, array_construct([new_element])) }}
{%- endmacro %}

{#- listagg on collect_list (Spark 3 has no listagg): the order_by_clause is not supported (a warning), limit_num
    slices the list. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if order_by_clause -%}
        {{ exceptions.warn('order_by_clause is not supported for listagg on Spark/Databricks') }}
    {%- endif -%}
    {%- set collected -%}
        {%- if limit_num -%} slice( collect_list({{ measure }}) , 1, {{ limit_num }})
        {%- else -%} collect_list({{ measure }})
        {%- endif -%}
    {%- endset -%}
    {%- do return('array_join(' ~ collected ~ ', ' ~ delimiter_text ~ ')') -%}
{%- endmacro %}

{#- glue's listagg keeps the order_by_clause that dbt-spark's drops: the values are collected with their sort keys in
    a struct, the structs sorted (sort_array compares the keys first) and the values read back (`.v` of an array of
    structs is the array of their `v`). The keys must all sort the same way (asc or desc, NULLs first or last as
    Spark's sort_array puts them). Without order_by_clause this is dbt-spark's listagg. -#}
{% macro glue__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if not order_by_clause -%}
        {{ return(spark__listagg(measure, delimiter_text, order_by_clause, limit_num)) }}
    {%- endif -%}
    {%- set clause = order_by_clause | trim -%}
    {%- set m = modules.re.match('(?i)order\\s+by\\s+', clause) -%}
    {%- if not m -%}
        {{ exceptions.raise_compiler_error("listagg: order_by_clause must start with `order by`, got: " ~ clause) }}
    {%- endif -%}
    {#- the sort keys: split at the commas outside parentheses and quotes -#}
    {%- set ns = namespace(keys=[], current='', depth=0, quote=none) -%}
    {%- for c in clause[m.group(0) | length:] -%}
        {%- if ns.quote -%}
            {%- set ns.current = ns.current ~ c -%}
            {%- if c == ns.quote -%}{%- set ns.quote = none -%}{%- endif -%}
        {%- elif c in ["'", '"', '`'] -%}
            {%- set ns.current = ns.current ~ c -%}{%- set ns.quote = c -%}
        {%- elif c == ',' and ns.depth == 0 -%}
            {%- set ns.keys = ns.keys + [ns.current | trim] -%}{%- set ns.current = '' -%}
        {%- else -%}
            {%- if c == '(' -%}{%- set ns.depth = ns.depth + 1 -%}{%- elif c == ')' -%}{%- set ns.depth = ns.depth - 1 -%}{%- endif -%}
            {%- set ns.current = ns.current ~ c -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set ns.keys = ns.keys + [ns.current | trim] -%}
    {%- set sorted = namespace(fields=[], directions=[]) -%}
    {%- for key in ns.keys -%}
        {%- set k = modules.re.match('(?is)(.*?)\\s+(asc|desc)$', key) -%}
        {%- if modules.re.search('(?i)\\snulls\\s+(first|last)$', key) -%}
            {{ exceptions.raise_compiler_error("listagg on Spark: NULLS FIRST / LAST in order_by_clause is not supported: " ~ clause) }}
        {%- endif -%}
        {%- set sorted.fields = sorted.fields + ["'k" ~ loop.index ~ "', " ~ (k.group(1) if k else key)] -%}
        {%- set sorted.directions = sorted.directions + [(k.group(2) | lower) if k else 'asc'] -%}
    {%- endfor -%}
    {%- if sorted.directions | unique | list | length > 1 -%}
        {{ exceptions.raise_compiler_error("listagg on Spark: the keys of order_by_clause must all be asc or all desc: " ~ clause) }}
    {%- endif -%}
    {%- set d = modules.re.match('(?is)distinct\\s+(.*)', measure | trim) -%}
    {%- set values -%}
        sort_array(collect_list(named_struct({{ sorted.fields | join(', ') }}, 'v', {{ d.group(1) if d else measure }})), {{ 'true' if sorted.directions[0] == 'asc' else 'false' }}).v
    {%- endset -%}
    {%- set values = 'array_distinct(' ~ values ~ ')' if d else values -%}
    {%- set values = 'slice(' ~ values ~ ', 1, ' ~ limit_num ~ ')' if limit_num else values -%}
    {%- do return('array_join(' ~ values ~ ', ' ~ delimiter_text ~ ')') -%}
{%- endmacro %}

{#- split_part: Spark's split takes a regular expression, so a delimiter starting with a special character is
    escaped; parts count from 1 (0-based subscript), negative parts from the end. -#}
{% macro spark__split_part(string_text, delimiter_text, part_number) -%}
    {%- set delimiter_expr -%}
        case when regexp_extract({{ delimiter_text }}, '([^A-Za-z0-9])(.*)', 1) != '_'
            then concat('\\', {{ delimiter_text }})
            else {{ delimiter_text }} end
    {%- endset -%}
    {%- if part_number >= 0 -%}
        {%- set index = part_number - 1 if part_number > 0 else part_number -%}
        {%- do return('split(' ~ string_text ~ ', ' ~ delimiter_expr ~ ')[(' ~ index ~ ')]') -%}
    {%- else -%}
        {%- set index -%}
            length({{ string_text }}) - length(replace({{ string_text }}, {{ delimiter_text }}, '')) + 1 + {{ part_number }}
        {%- endset -%}
        {%- do return('split(' ~ string_text ~ ', ' ~ delimiter_expr ~ ')[(' ~ index ~ ')]') -%}
    {%- endif -%}
{%- endmacro %}

{#- dates -#}

{% macro spark__date(year, month, day) -%}
    {%- set dt = modules.datetime.date(year, month, day) -%}
    to_date('{{ dt.strftime('%Y-%m-%d') }}', 'yyyy-MM-dd')
{%- endmacro %}

{#- `function(arg)`, failing the query (assert_true) where it is NULL while `arg` is not: a date or timestamp that
    does not parse raises an error instead of becoming NULL. -#}
{% macro assert_not_null(function, arg) -%}
    {{ return(adapter.dispatch('assert_not_null', 'dbt')(function, arg)) }}
{%- endmacro %}
{% macro spark__assert_not_null(function, arg) -%}
    coalesce({{ function }}({{ arg }}), nvl2({{ function }}({{ arg }}), assert_true({{ function }}({{ arg }}) is not null), null))
{%- endmacro %}

{#- dateadd through unix seconds: the date part moves by days or months, then the time of day is added back.
    (As in dbt-spark, millisecond and microsecond intervals round to whole seconds, i.e. to 0.) -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {%- set clock_component -%}
        to_unix_timestamp({{ assert_not_null('to_timestamp', from_date_or_timestamp) }})
        - to_unix_timestamp({{ assert_not_null('date', from_date_or_timestamp) }})
    {%- endset -%}
    {%- if datepart in ['day', 'week'] -%}
        to_timestamp(to_unix_timestamp(date_add({{ assert_not_null('date', from_date_or_timestamp) }},
            cast({{ interval }} * {{ 7 if datepart == 'week' else 1 }} as int))) + {{ clock_component }})
    {%- elif datepart in ['month', 'quarter', 'year'] -%}
        {%- set months = {'month': 1, 'quarter': 3, 'year': 12}[datepart] -%}
        to_timestamp(to_unix_timestamp(add_months({{ assert_not_null('date', from_date_or_timestamp) }},
            cast({{ interval }} * {{ months }} as int))) + {{ clock_component }})
    {%- elif datepart in ['hour', 'minute', 'second', 'millisecond', 'microsecond'] -%}
        {%- set seconds = {'hour': '3600', 'minute': '60', 'second': '1', 'millisecond': '(1/1000000)',
                           'microsecond': '(1/1000000)'}[datepart] -%}
        to_timestamp({{ assert_not_null('to_unix_timestamp', from_date_or_timestamp) }} + cast({{ interval }} * {{ seconds }} as int))
    {%- else -%}
        {{ exceptions.raise_compiler_error("macro dateadd not implemented for datepart ~ '" ~ datepart ~ "' ~ on Spark") }}
    {%- endif -%}
{%- endmacro %}

{#- datediff counts the boundaries crossed between the two values, as dbt's other adapters do: whole periods by
    datediff/months_between, plus one where the later value's position in its period is before the earlier's. -#}
{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- if datepart in ['day', 'week', 'month', 'quarter', 'year'] -%}
        {#- the dates must parse: fail the query early otherwise -#}
        {%- set first_date = assert_not_null('date', first_date) -%}
        {%- set second_date = assert_not_null('date', second_date) -%}
    {%- endif -%}
    {%- if datepart == 'day' -%}
        datediff({{ second_date }}, {{ first_date }})
    {%- elif datepart == 'week' -%}
        case when {{ first_date }} < {{ second_date }}
            then floor(datediff({{ second_date }}, {{ first_date }})/7)
            else ceil(datediff({{ second_date }}, {{ first_date }})/7)
            end
        {#- crossed a week boundary (Sunday)? #}
        + case
            when {{ first_date }} < {{ second_date }} and dayofweek({{ second_date }}) < dayofweek({{ first_date }}) then 1
            when {{ first_date }} > {{ second_date }} and dayofweek({{ second_date }}) > dayofweek({{ first_date }}) then -1
            else 0 end
    {%- elif datepart == 'month' -%}
        case when {{ first_date }} < {{ second_date }}
            then floor(months_between(date({{ second_date }}), date({{ first_date }})))
            else ceil(months_between(date({{ second_date }}), date({{ first_date }})))
            end
        {#- crossed a month boundary? #}
        + case
            when {{ first_date }} < {{ second_date }} and dayofmonth({{ second_date }}) < dayofmonth({{ first_date }}) then 1
            when {{ first_date }} > {{ second_date }} and dayofmonth({{ second_date }}) > dayofmonth({{ first_date }}) then -1
            else 0 end
    {%- elif datepart == 'quarter' -%}
        case when {{ first_date }} < {{ second_date }}
            then floor(months_between(date({{ second_date }}), date({{ first_date }}))/3)
            else ceil(months_between(date({{ second_date }}), date({{ first_date }}))/3)
            end
        {#- crossed a quarter boundary? #}
        + case
            when {{ first_date }} < {{ second_date }} and (
                (dayofyear({{ second_date }}) - (quarter({{ second_date }}) * 365/4))
                < (dayofyear({{ first_date }}) - (quarter({{ first_date }}) * 365/4))
            ) then 1
            when {{ first_date }} > {{ second_date }} and (
                (dayofyear({{ second_date }}) - (quarter({{ second_date }}) * 365/4))
                > (dayofyear({{ first_date }}) - (quarter({{ first_date }}) * 365/4))
            ) then -1
            else 0 end
    {%- elif datepart == 'year' -%}
        year({{ second_date }}) - year({{ first_date }})
    {%- elif datepart in ['hour', 'minute', 'second', 'millisecond', 'microsecond'] -%}
        {%- set divisor = {'hour': '3600', 'minute': '60', 'second': '1', 'millisecond': '(1/1000)',
                           'microsecond': '(1/1000000)'}[datepart] -%}
        {%- set second_seconds = assert_not_null('to_unix_timestamp', assert_not_null('to_timestamp', second_date)) -%}
        {%- set first_seconds = assert_not_null('to_unix_timestamp', assert_not_null('to_timestamp', first_date)) -%}
        case when {{ first_date }} < {{ second_date }}
            then ceil(( {{ second_seconds }} - {{ first_seconds }} ) / {{ divisor }})
            else floor(( {{ second_seconds }} - {{ first_seconds }} ) / {{ divisor }})
            end
        {%- if datepart == 'millisecond' %}
            + cast(date_format({{ second_date }}, 'SSS') as int)
            - cast(date_format({{ first_date }}, 'SSS') as int)
        {%- endif %}
        {%- if datepart == 'microsecond' %}
            {#- Spark's unix seconds drop the microseconds: they are read from the text (yyyy-MM-dd HH:mm:ss.SSSSSS only) #}
            {%- set capture_str = '[0-9]{4}-[0-9]{2}-[0-9]{2}.[0-9]{2}:[0-9]{2}:[0-9]{2}.([0-9]{6})' %}
            + cast(regexp_extract({{ second_date }}, '{{ capture_str }}', 1) as int)
            - cast(regexp_extract({{ first_date }}, '{{ capture_str }}', 1) as int)
        {%- endif %}
    {%- else -%}
        {{ exceptions.raise_compiler_error("macro datediff not implemented for datepart ~ '" ~ datepart ~ "' ~ on Spark") }}
    {%- endif -%}
{%- endmacro %}
