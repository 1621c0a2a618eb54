{# The newest value of a partition column, read from the table: incremental models rebuild from there. #}
{% macro latest_partition(relation, column) %}
    {% if not execute %}{{ return(none) }}{% endif %}
    {% set result = run_query('select max(' ~ column ~ ') from ' ~ relation) %}
    {{ return(result.columns[0].values()[0]) }}
{% endmacro %}
