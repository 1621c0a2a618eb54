{{ config(materialized='table', file_format='parquet', partition_by=['name']) }}
select id, name, amount * 2 as doubled from {{ ref('people') }}
