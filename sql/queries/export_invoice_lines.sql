-- The lines of every finalized invoice of one period, for `costline export
-- --data invoice_lines`, by customer and line number. Lines are stored before
-- their invoice row, so lines whose invoice row is missing belong to a
-- finalize that did not finish: they were never billed and are left out.
SELECT
    l.invoice_id,
    l.customer_id,
    l.period,
    l.line_no,
    l.kind,
    l.description,
    l.meter,
    l.quantity,
    l.included,
    l.billable,
    l.unit_price,
    l.amount,
    l.adjusts_period
FROM invoice_lines AS l FINAL
INNER JOIN
(
    SELECT invoice_id, customer_id, period
    FROM invoices FINAL
    WHERE period = {period:String}
) AS i
    ON i.customer_id = l.customer_id AND i.period = l.period AND i.invoice_id = l.invoice_id
WHERE l.period = {period:String}
ORDER BY l.customer_id, l.line_no
