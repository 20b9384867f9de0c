-- 3: which key admitted a device (issue 12). A device registered on its
-- first upload in fleet-key mode records the fleet key's id (`fleet key
-- 1a2b…`); NULL for devices an operator added.
ALTER TABLE devices ADD COLUMN admitted_by TEXT;
