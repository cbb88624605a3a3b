ALTER TABLE `records` ADD `instruction_chars` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `records` ADD `response_chars` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Full-text search and text lengths, kept by SQL itself: a trigger fills both for every record as
-- it is inserted (in the inserting statement's transaction, so in the same D1 batch), and the
-- statements at the end backfill the records stored before this migration. The texts are defined
-- once, in the views below.
--
-- A record's prompts, each rendered as renderPrompt (@iopo/common) renders it: the verbatim
-- `prompt` when there is one, else the description, the constraints one per line and "# Inputs:"
-- with the input. `which` 0 is the instruction that characterises the record (instruction,
-- prompt or x1), 1 an iopo record's x2. (A join with json_each rather than a UNION, so that a
-- lookup by `rid` stays a rowid lookup: the trigger reads one record.)
CREATE VIEW `record_prompts` AS
SELECT `r`.`rowid` AS `rid`, `j`.`key` AS `which`,
  CASE WHEN json_extract(`j`.`value`, '$.prompt') IS NOT NULL THEN json_extract(`j`.`value`, '$.prompt')
  ELSE coalesce(json_extract(`j`.`value`, '$.description'), '') || char(10)
    || coalesce((SELECT group_concat(json_extract(`c`.`value`, '$.text'), char(10)) FROM json_each(`j`.`value`, '$.constraints') AS `c`) || char(10), '')
    || CASE WHEN coalesce(json_extract(`j`.`value`, '$.input'), '') IN ('', 'NULL') THEN ''
       ELSE '# Inputs:' || char(10) || json_extract(`j`.`value`, '$.input') || char(10) END
  END AS `prompt`
FROM `records` AS `r`, json_each(json_array(
  json(coalesce(json_extract(`r`.`payload`, '$.instruction'), json_extract(`r`.`payload`, '$.prompt'), json_extract(`r`.`payload`, '$.x1'))),
  json(json_extract(`r`.`payload`, '$.x2'))
)) AS `j`
WHERE `j`.`type` = 'object';--> statement-breakpoint
-- A record's responses: `which` 0 is sft's response, dpo's chosen or iopo's y1; 1 is dpo's
-- rejected or iopo's y2.
CREATE VIEW `record_responses` AS
SELECT `r`.`rowid` AS `rid`, `j`.`key` AS `which`, `j`.`value` AS `response`
FROM `records` AS `r`, json_each(json_array(
  coalesce(json_extract(`r`.`payload`, '$.response'), json_extract(`r`.`payload`, '$.chosen'), json_extract(`r`.`payload`, '$.y1')),
  coalesce(json_extract(`r`.`payload`, '$.rejected'), json_extract(`r`.`payload`, '$.y2'))
)) AS `j`
WHERE `j`.`type` = 'text';--> statement-breakpoint
-- What is searched (every prompt and response of a record) and measured (in characters: the
-- first prompt and the first response; 0 where a record has none).
CREATE VIEW `record_texts` AS
SELECT `r`.`rowid` AS `rid`, `r`.`dataset_id`, `r`.`position`,
  coalesce((SELECT group_concat(`prompt`, char(10)) FROM `record_prompts` AS `p` WHERE `p`.`rid` = `r`.`rowid`), '') AS `instruction`,
  coalesce((SELECT length(`prompt`) FROM `record_prompts` AS `p` WHERE `p`.`rid` = `r`.`rowid` AND `p`.`which` = 0), 0) AS `instruction_chars`,
  coalesce((SELECT group_concat(`response`, char(10)) FROM `record_responses` AS `q` WHERE `q`.`rid` = `r`.`rowid`), '') AS `response`,
  coalesce((SELECT length(`response`) FROM `record_responses` AS `q` WHERE `q`.`rid` = `r`.`rowid` AND `q`.`which` = 0), 0) AS `response_chars`
FROM `records` AS `r`;--> statement-breakpoint
-- trigram: finds any substring of three characters or more, which Chinese text (no spaces between
-- words) needs. Contentless (the text lives in `records`), keeping only the record's address.
CREATE VIRTUAL TABLE `records_fts` USING fts5(
  `instruction`, `response`, `dataset_id` UNINDEXED, `position` UNINDEXED,
  content='', contentless_unindexed=1, tokenize='trigram'
);--> statement-breakpoint
CREATE TRIGGER `records_index_text` AFTER INSERT ON `records` BEGIN
  INSERT INTO `records_fts` (`instruction`, `response`, `dataset_id`, `position`)
    SELECT `instruction`, `response`, `dataset_id`, `position` FROM `record_texts` WHERE `rid` = new.`rowid`;
  UPDATE `records` SET (`instruction_chars`, `response_chars`) =
    (SELECT `instruction_chars`, `response_chars` FROM `record_texts` WHERE `rid` = new.`rowid`)
  WHERE `rowid` = new.`rowid`;
END;--> statement-breakpoint
INSERT INTO `records_fts` (`instruction`, `response`, `dataset_id`, `position`)
  SELECT `instruction`, `response`, `dataset_id`, `position` FROM `record_texts`;--> statement-breakpoint
UPDATE `records` SET (`instruction_chars`, `response_chars`) =
  (SELECT `instruction_chars`, `response_chars` FROM `record_texts` WHERE `rid` = `records`.`rowid`);
