{{ config(materialized='incremental', incremental_strategy='insert_overwrite', file_format='parquet', partition_by=['name']) }}
select id, name, amount from {{ ref('people') }}
{% if is_incremental() %} where id > 1 {% endif %}
