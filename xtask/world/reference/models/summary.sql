{{ config(materialized='view') }}
select name, sum(doubled) as total from {{ ref('totals') }} group by name
