-- Finds the other responses to the same task (same description) for the quadruple builder's y2.
CREATE INDEX `records_sft_task_idx` ON `records` (`dataset_id`, json_extract(`payload`, '$.instruction.description')) WHERE `kind` = 'sft';
