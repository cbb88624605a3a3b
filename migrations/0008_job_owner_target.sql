ALTER TABLE `jobs` ADD `target_dataset_id` text REFERENCES datasets(id);--> statement-breakpoint
ALTER TABLE `jobs` ADD `owner_key_id` text;--> statement-breakpoint
CREATE INDEX `jobs_target_idx` ON `jobs` (`target_dataset_id`,`created_at`);--> statement-breakpoint
-- Jobs made before owners were recorded: the target is the dataset named in the job's params
-- (public first, else the oldest private one of that name), and the job belongs to the target's
-- owner, who alone (besides an admin) could write it. A target that no longer resolves stays null:
-- such a job fails when run, saying so.
UPDATE `jobs` SET `target_dataset_id` = (
	SELECT `d`.`id` FROM `datasets` `d`
	WHERE `d`.`name` = json_extract(`jobs`.`params`, '$.target')
	ORDER BY `d`.`namespace` <> '', `d`.`created_at`
	LIMIT 1
) WHERE `target_dataset_id` IS NULL;--> statement-breakpoint
UPDATE `jobs` SET `owner_key_id` = (
	SELECT `d`.`owner_key_id` FROM `datasets` `d` WHERE `d`.`id` = `jobs`.`target_dataset_id`
) WHERE `owner_key_id` IS NULL;
