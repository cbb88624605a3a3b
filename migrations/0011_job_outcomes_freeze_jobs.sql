CREATE TABLE `job_record_outcomes` (
	`job_id` text NOT NULL,
	`position` integer NOT NULL,
	`source_record` text NOT NULL,
	`outcome` text NOT NULL,
	`stage` text NOT NULL,
	`tokens` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`job_id`, `position`),
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
ALTER TABLE `dataset_versions` ADD `freeze_job_id` text;