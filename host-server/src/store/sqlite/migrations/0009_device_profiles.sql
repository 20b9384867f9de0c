-- 9: storage plants (issue 15): the register profile each device's uploads
-- are read with (`bess-rack-1`, `pcs-1`, …); NULL is the default
-- `ecowatt-1.3`.
ALTER TABLE devices ADD COLUMN profile TEXT;
